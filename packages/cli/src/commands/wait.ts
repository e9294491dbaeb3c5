import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { CliError } from "../errors.ts";
import { parseJobId } from "../job-id.ts";
import { visible } from "../visible.ts";

/** `jobexec wait`: waits for jobs to end and exits with how they ended. */
export default class Wait extends JobexecCommand {
  static override summary = "Wait for jobs to end; exit with how they ended.";
  static override description = `Returns once every job given has ended (queued ones once they ran, or failed or were cancelled without running). With one job, exits with its exit code (128 + the signal number when a signal killed it); with several, 0 when every one exited 0, else the status of the first one (in the order given) that did not. A job that did not run to its own end gives:

  122  it ended while the server was down: its exit status is unknown
  123  it failed because a job it waited for (start --after) did not end as required
  124  --timeout passed first (the jobs go on)
  125  it failed to start
  126  it was stopped (jobexec stop, its timeout, its output limit, the server's shutdown)
  127  it was cancelled while queued

It follows the jobs through the server's WatchJobs stream and rides out a restart of the server: it reconnects (every second, until --timeout) and resumes where it was. With --json it prints the jobs as they ended.

${commonHelp}`;

  static override usage = "wait [FLAGS] ID...";
  static override strict = false;

  static override examples = [
    { description: "Run a job and wait for it", command: "ID=$(<%= config.bin %> start -- make); <%= config.bin %> wait $ID" },
    { description: "Wait at most an hour for three jobs", command: "<%= config.bin %> wait --timeout 1h $A $B $C" },
  ];

  static override flags = {
    timeout: Flags.string({ summary: "Give up after this long (exit 124), e.g. 30s, 10m, 2h. Default: wait as long as it takes." }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Wait);
    if (argv.length === 0) throw new CliError("usage", "give the id of at least one job to wait for, e.g. `jobexec wait $ID`");
    const ids = [...new Set((argv as string[]).map((id) => parseJobId(id)))];
    this.jobId = ids.length === 1 ? ids[0] : undefined;
    const [{ parseDuration }, { jobJson }, { Code, ConnectError, JobChangeKind, JobState }, facts] = await Promise.all([
      import("../duration.ts"),
      import("../job-json.ts"),
      import("../on-demand.ts"),
      import("../job-facts.ts"),
    ]);
    let timedOut = false;
    const timer =
      flags.timeout === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            this.abort.abort();
          }, parseDuration(flags.timeout, "--timeout"));
    type Job = NonNullable<Awaited<ReturnType<Awaited<ReturnType<typeof this.connect>>["client"]["getJob"]>>["job"]>;
    const ended = new Map<string, Job>();
    const isEnded = (job: Job): boolean => job.state !== JobState.QUEUED && job.state !== JobState.RUNNING;
    const record = (job: Job | undefined): void => {
      if (job === undefined || !ids.includes(job.id) || ended.has(job.id) || !isEnded(job)) return;
      ended.set(job.id, job);
      if (flags.json) this.printJson(jobJson(job));
    };
    let from: { epoch: string; sequence: bigint } | undefined;
    let reconnecting = false;
    try {
      while (ended.size < ids.length) {
        try {
          const { client } = await this.connect(flags);
          const signal = this.abort.signal;
          const stream = client.watchJobs({ ids, resumeEpoch: from?.epoch ?? "", afterSequence: from?.sequence ?? 0n }, { signal });
          for await (const message of stream) {
            if (message.event.case === "position") {
              const position = message.event.value;
              // Watching first, then reading each job: no end can fall between the two.
              if (from === undefined || position.resync) {
                for (const id of ids) if (!ended.has(id)) record((await client.getJob({ id }, { signal })).job);
              }
              if (reconnecting) process.stderr.write("jobexec: reconnected\n");
              reconnecting = false;
              from = { epoch: position.epoch, sequence: position.sequence };
            } else if (message.event.case === "change") {
              const change = message.event.value;
              from = { epoch: from?.epoch ?? "", sequence: change.sequence };
              if (change.kind === JobChangeKind.DELETED && change.job !== undefined && !ended.has(change.job.id)) {
                throw new CliError("not-found", `job ${change.job.id} was deleted before it ended`);
              }
              record(change.job);
            }
            if (ended.size === ids.length) break;
          }
        } catch (error) {
          if (timedOut) break;
          // The server went away (a restart, a crash): connect again and resume from the last change seen.
          if (!(error instanceof ConnectError && (error.code === Code.Unavailable || error.code === Code.Internal || error.code === Code.Canceled)) || this.abort.signal.aborted) throw error;
          if (!reconnecting) process.stderr.write(`jobexec: lost the server (${visible(error.rawMessage)}); reconnecting\n`);
          reconnecting = true;
          this.disconnect();
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
    } finally {
      clearTimeout(timer);
    }
    if (ended.size < ids.length) {
      const waiting = ids.filter((id) => !ended.has(id));
      process.stderr.write(`jobexec: --timeout passed; still not ended: ${waiting.join(" ")}\n`);
      this.setExitCode(facts.waitCodes.timeout);
      return;
    }
    const statuses = ids.map((id) => facts.waitStatus(ended.get(id) as Job));
    this.setExitCode(statuses.find((s) => s !== 0) ?? 0);
  }
}
