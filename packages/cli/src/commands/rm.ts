import * as Args from "@oclif/core/args";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { parseJobId } from "../job-id.ts";

/** `jobexec rm`: deletes ended jobs, their records and their output. */
export default class Rm extends JobexecCommand {
  static override summary = "Delete ended jobs: their records and their output.";
  static override description = `Deletes each job given, which must have ended (stop a running or queued one first), and prints its id. The job's record and its output are removed from the server for good. A job that a queued job waits for (start --after) is kept until none does. Each job is deleted on its own: one that cannot be (not found, still running or queued, waited for) is reported on stderr and the others are still deleted; the exit code is then 1.

${commonHelp}`;

  static override usage = "rm ID...";
  // Any number of ids; each is checked before anything is sent.
  static override strict = false;

  static override examples = [
    { description: "Delete a job", command: "<%= config.bin %> rm 0b6c1b2e-4f6d-4a3e-9a57-3f0f3f3c2d10" },
    { description: "Delete every failed job of yours", command: "<%= config.bin %> rm $(<%= config.bin %> list --state failed --json | jq -r '.jobs[].id')" },
  ];

  static override args = {
    id: Args.string({ description: "Job ids, as printed by `jobexec start` and `jobexec list`.", required: true }),
  };

  static override flags = {
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { argv, flags } = await this.parse(Rm);
    const ids = (argv as string[]).map(parseJobId);
    const { client } = await this.connect(flags);
    const [{ Code, ConnectError }, { jobJson }] = await Promise.all([import("../on-demand.ts"), import("../job-json.ts")]);
    const deleted = [];
    let failed = 0;
    for (const id of ids) {
      try {
        const { job } = await client.deleteJob({ id }, { signal: this.abort.signal });
        if (job === undefined) throw new Error("the server's DeleteJob response has no job");
        deleted.push(job);
        if (!flags.json) process.stdout.write(`${id}\n`);
      } catch (error) {
        // The server's answer about this one job; anything else (unreachable, TLS, Ctrl-C) ends the command.
        if (!(error instanceof ConnectError) || (error.code !== Code.NotFound && error.code !== Code.FailedPrecondition)) throw error;
        this.printError(await this.describe(error, id));
        failed++;
      }
    }
    if (flags.json) this.printJson({ jobs: deleted.map((job) => jobJson(job)) });
    if (failed > 0) this.setExitCode(1);
  }
}
