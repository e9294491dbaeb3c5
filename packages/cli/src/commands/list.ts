import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { stateNames, type StateName } from "../state-names.ts";

/** `jobexec list`: the caller's jobs (or everyone's, for admins) as a table. */
export default class List extends JobexecCommand {
  static override summary = "List jobs, newest first.";
  static override description = `Lists your jobs, newest first. Admins (client certificate with OU=admin) may list every user's jobs with --all, or one user's with --owner; for other users these flags are refused (permission denied).

${commonHelp}`;

  static override examples = [
    { description: "Your jobs", command: "<%= config.bin %> list" },
    { description: "Your running jobs", command: "<%= config.bin %> list --state running" },
    { description: "Everyone's failed and stopped jobs (admins)", command: "<%= config.bin %> list --all --state failed --state stopped" },
    { description: "Ids of alice's jobs, with jq (admins)", command: "<%= config.bin %> list --owner alice --json | jq -r '.jobs[].id'" },
  ];

  static override flags = {
    all: Flags.boolean({ summary: "Every user's jobs (admins only).", default: false }),
    owner: Flags.string({ summary: "Only this user's jobs (admins only)." }),
    state: Flags.string({ summary: "Only jobs in this state (repeatable).", options: [...stateNames], multiple: true, multipleNonGreedy: true }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    const { stateValues } = await import("../job-facts.ts");
    const states = (flags.state ?? []).map((s) => stateValues[s as StateName]);
    const { client } = await this.connect(flags);
    const { jobs } = await client.listJobs({ states, allOwners: flags.all, owner: flags.owner ?? "" }, { signal: this.abort.signal });
    if (flags.json) {
      const { jobJson } = await import("../job-json.ts");
      this.printJson({ jobs: jobs.map((job) => jobJson(job)) });
    } else if (jobs.length === 0) {
      process.stderr.write("no jobs\n");
    } else {
      process.stdout.write((await import("../format-list.ts")).formatList(jobs));
    }
  }
}
