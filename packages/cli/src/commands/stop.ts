import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import type { Connection } from "../connection.ts";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { parseDuration } from "../duration.ts";
import { parseJobId } from "../job-id.ts";
import { visible } from "../visible.ts";

/** `jobexec stop`: stops a job's whole process tree and prints its final state. */
export default class Stop extends JobexecCommand {
  static override summary = "Stop a job: SIGTERM, then SIGKILL after the grace period.";
  static override description = `Sends SIGTERM to every process of the job, waits up to the grace period, then kills what remains, and prints the job's final state once it has ended. On a terminal, a stop that takes a moment says on stderr what it waits for and how long at most. Stopping a job that already ended says so on stderr and prints it unchanged (exit 0). While a stop is under way, status and list show the job as "stopping". A queued job is cancelled at once: it never runs (stopped, "cancelled before it started").

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
    const options = { signal: this.abort.signal };
    const { job: before } = await client.getJob({ id: this.jobId }, options);
    const { stateName, outcome } = await import("../job-facts.ts");
    let job = before;
    // A running job is stopped and a queued one cancelled; one that ended is shown as it is.
    if (before !== undefined && stateName(before) !== "running" && stateName(before) !== "queued") {
      // outcome() of a failed job already says "failed to start: ...".
      const how = outcome(before);
      const what = stateName(before) === "failed" ? how : `${stateName(before)}${how === "" ? "" : `: ${how}`}`;
      process.stderr.write(`jobexec: job ${this.jobId} had already ended (${visible(what)}); nothing to stop\n`);
    } else {
      const stopping = client.stopJob({ id: this.jobId, gracePeriod }, options);
      // On a terminal, a stop that takes a moment (the grace period) says what it waits for.
      if (process.stderr.isTTY) await this.sayWaiting(stopping, client, graceMs);
      job = (await stopping).job;
    }
    if (job === undefined) throw new Error("the server's StopJob response has no job");
    if (flags.json) this.printJson((await import("../job-json.ts")).jobJson(job));
    else process.stdout.write((await import("../format-status.ts")).formatStatus(job));
  }

  /** Unless the stop is over within a moment, says on stderr that it waits for the job, and how long at most. */
  private async sayWaiting(stopping: Promise<unknown>, client: Connection["client"], graceMs: number | undefined): Promise<void> {
    const moment = new Promise<"waiting">((resolve) => setTimeout(resolve, 200, "waiting").unref());
    if ((await Promise.race([stopping.then(() => "done", () => "done"), moment])) === "done") return;
    const { job } = await client.getJob({ id: this.jobId ?? "" }, { signal: this.abort.signal });
    const [{ timestampDate }, { formatDuration }, { formatTime }] = await Promise.all([import("../on-demand.ts"), import("../duration.ts"), import("../format-time.ts")]);
    const stop = job?.stopping;
    let until = `at most the ${graceMs === undefined ? "server's" : formatDuration(graceMs)} grace period`;
    if (stop?.beginTime !== undefined && stop.killTime !== undefined) {
      const kill = timestampDate(stop.killTime);
      until = `${formatDuration(kill.getTime() - timestampDate(stop.beginTime).getTime())} at most (SIGKILL at ${formatTime(kill)})`;
    }
    process.stderr.write(`jobexec: stopping job ${this.jobId ?? ""}: SIGTERM sent; waiting for it to end, ${until}\n`);
  }
}
