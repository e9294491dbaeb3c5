import * as Flags from "@oclif/core/flags";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { CliError } from "../errors.ts";
import { stateNames, type StateName } from "../state-names.ts";

/** Largest page the server gives (it also bounds each page to about 1 MiB). */
const pageSize = 1000;

/** `jobexec list`: the caller's jobs (or everyone's, for admins) as a table. */
export default class List extends JobexecCommand {
  static override summary = "List jobs, newest first.";
  static override description = `Lists your jobs, newest first. Admins (client certificate with OU=admin) may list every user's jobs with --all, or one user's with --owner; for other users these flags are refused (permission denied).

The server answers a page at a time: rows are printed as pages arrive (the first page sets the column widths), until the last page or --limit.

${commonHelp}`;

  static override examples = [
    { description: "Your jobs", command: "<%= config.bin %> list" },
    { description: "Your 10 newest jobs", command: "<%= config.bin %> list --limit 10" },
    { description: "Your running jobs", command: "<%= config.bin %> list --state running" },
    { description: "Everyone's failed and stopped jobs (admins)", command: "<%= config.bin %> list --all --state failed --state stopped" },
    { description: "Ids of alice's jobs, with jq (admins)", command: "<%= config.bin %> list --owner alice --json | jq -r '.jobs[].id'" },
    { description: "Remove every ended job", command: "<%= config.bin %> rm $(<%= config.bin %> list -q --state exited --state stopped --state failed)" },
  ];

  static override flags = {
    all: Flags.boolean({ summary: "Every user's jobs (admins only).", default: false }),
    owner: Flags.string({ summary: "Only this user's jobs (admins only)." }),
    state: Flags.string({ summary: "Only jobs in this state (repeatable).", options: [...stateNames], multiple: true, multipleNonGreedy: true }),
    limit: Flags.integer({ summary: "At most this many jobs, the newest (default: all).", min: 1 }),
    quiet: Flags.boolean({ char: "q", summary: "Print only the job ids, one a line.", default: false }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(List);
    if (flags.json && flags.quiet) throw new CliError("usage", "--json and --quiet cannot be used together (see `jobexec list --help`)");
    const { stateValues } = await import("../job-facts.ts");
    const states = (flags.state ?? []).map((s) => stateValues[s as StateName]);
    const { client } = await this.connect(flags);
    const limit = flags.limit ?? Number.POSITIVE_INFINITY;
    const { jobJson } = flags.json ? await import("../job-json.ts") : { jobJson: undefined };
    const table = flags.json ? undefined : new (await import("../format-list.ts")).ListTable();
    let printed = 0;
    let pageToken = "";
    do {
      const page = await client.listJobs(
        { states, allOwners: flags.all, owner: flags.owner ?? "", pageSize: Math.min(pageSize, limit - printed), pageToken },
        { signal: this.abort.signal },
      ).catch(async (error: unknown) => {
        throw flags.all || flags.owner !== undefined ? await adminOnly(error) : error;
      });
      const jobs = page.jobs.slice(0, limit - printed);
      // JSON is written as it comes too, in the same shape (and bytes) as one JSON.stringify(..., null, 2).
      if (jobJson !== undefined) {
        for (const job of jobs) {
          const text = JSON.stringify(jobJson(job), null, 2).replaceAll("\n", "\n    ");
          process.stdout.write(`${printed === 0 ? '{\n  "jobs": [\n' : ",\n"}    ${text}`);
          printed++;
        }
      } else if (flags.quiet) {
        process.stdout.write(jobs.map((job) => `${job.id}\n`).join(""));
        printed += jobs.length;
      } else {
        process.stdout.write(table?.page(jobs) ?? "");
        printed += jobs.length;
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && printed < limit);
    if (flags.json) process.stdout.write(printed === 0 ? '{\n  "jobs": []\n}\n' : "\n  ]\n}\n");
    else if (printed === 0 && !flags.quiet) process.stderr.write("no jobs\n");
  }
}

// The server's refusal names its API fields (all_owners, owner); the user typed flags.
async function adminOnly(error: unknown): Promise<unknown> {
  const { Code, ConnectError } = await import("../on-demand.ts");
  return error instanceof ConnectError && error.code === Code.PermissionDenied ? new CliError("permission-denied", "permission denied: only admins may list other users' jobs (--all, --owner); without them, list shows your own", { cause: error }) : error;
}
