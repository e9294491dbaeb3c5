import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { parseDuration } from "../duration.ts";
import { parseJobId } from "../job-id.ts";

/** `jobexec stop`: stops a job's whole process tree and prints its final state. */
export default class Stop extends JobexecCommand {
  static override summary = "Stop a job: SIGTERM, then SIGKILL after the grace period.";
  static override description = `Sends SIGTERM to every process of the job, waits up to the grace period, then kills what remains, and prints the job's final state once it has ended. Stopping a job that already ended prints it unchanged. A queued job is cancelled at once: it never runs (stopped, "cancelled before it started").

${commonHelp}`;

  static override examples = [
    { description: "Stop with the server's default grace period (5s)", command: "<%= config.bin %> stop 0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10" },
    { description: "Give the job 30 seconds to clean up", command: "<%= config.bin %> stop --grace 30s $ID" },
    { description: "Kill at once", command: "<%= config.bin %> stop --grace 0 $ID" },
  ];

  static override args = {
    id: Args.string({ description: "Job id, as printed by `jobexec start`.", required: true }),
  };

  static override flags = {
    grace: Flags.string({ summary: "Time between SIGTERM and SIGKILL: 500ms, 10s, 1m, 1m30s; 0 kills at once. Default: the server's (5s)." }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Stop);
    this.jobId = parseJobId(args.id);
    const graceMs = flags.grace === undefined ? undefined : parseDuration(flags.grace, "--grace");
    const gracePeriod = graceMs === undefined ? undefined : { seconds: BigInt(Math.floor(graceMs / 1000)), nanos: (graceMs % 1000) * 1_000_000 };
    const { client } = await this.connect(flags);
    const { job } = await client.stopJob({ id: this.jobId, gracePeriod }, { signal: this.abort.signal });
    if (job === undefined) throw new Error("the server's StopJob response has no job");
    if (flags.json) this.printJson((await import("../job-json.ts")).jobJson(job));
    else process.stdout.write((await import("../format-status.ts")).formatStatus(job));
  }
}
