import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { parseJobId } from "../job-id.ts";

/** `jobexec status`: prints everything known about a job. */
export default class Status extends JobexecCommand {
  static override summary = "Show a job's state, exit status, resource usage and limits.";
  static override description = `Prints the job's state (queued, running, exited, stopped or failed) with its exit code or the signal that killed it and whether the OOM killer struck, its times and duration, CPU, memory, task and IO usage next to their limits, its peaks (memory, swap, tasks), OOM kills, CPU throttling and pressure stall times, its output sizes and its cgroup. Usage is live while the job runs and final once it ended (read just before its cgroup was removed, and kept). --timeline adds its CPU and memory over time. A queued job shows where it is in its owner's queue and what it waits for.

${commonHelp}`;

  static override examples = [
    { description: "Show a job", command: "<%= config.bin %> status $ID" },
    { description: "The exit code, with jq", command: "<%= config.bin %> status --json $ID | jq .exitCode" },
    { description: "CPU and memory over time", command: "<%= config.bin %> status --timeline $ID" },
  ];

  static override args = {
    id: Args.string({ description: "Job id.", required: true }),
  };

  static override flags = {
    ...jsonFlag,
    timeline: Flags.boolean({ description: "Also show the job's CPU and memory over time: a sparkline row per resource (with --json: the samples)." }),
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Status);
    this.jobId = parseJobId(args.id);
    const { client } = await this.connect(flags);
    const { job } = await client.getJob({ id: this.jobId, includeTimeline: flags.timeline }, { signal: this.abort.signal });
    if (job === undefined) throw new Error("the server's GetJob response has no job");
    if (flags.json) this.printJson((await import("../job-json.ts")).jobJson(job));
    else process.stdout.write((await import("../format-status.ts")).formatStatus(job));
    if (flags.timeline && !flags.json) process.stdout.write((await import("../format-usage.ts")).formatTimeline(job.timeline));
  }
}
