import * as Flags from "@oclif/core/flags";
import type { Job } from "@jobexec/proto";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { visible } from "../visible.ts";

/** One owner's line of the summary. */
interface OwnerSummary {
  owner: string;
  running: number;
  queued: number;
  /** Sum of the running jobs' memory limits, in bytes. */
  memoryReservedBytes: number;
  /** Sum of the running jobs' CPU limits, in CPUs. */
  cpuReserved: number;
  /** What the owner's next queued job waits for; empty when none is queued. */
  next: string;
}

/** The summary of running and queued jobs per owner. */
export function summarize(jobs: Job[], queued: number, running: number): OwnerSummary[] {
  const owners = new Map<string, OwnerSummary>();
  for (const job of jobs) {
    let line = owners.get(job.owner);
    if (line === undefined) owners.set(job.owner, (line = { owner: job.owner, running: 0, queued: 0, memoryReservedBytes: 0, cpuReserved: 0, next: "" }));
    if (job.state === running) {
      line.running++;
      line.memoryReservedBytes += Number(job.limits?.memoryMaxBytes ?? 0n);
      line.cpuReserved += job.limits?.cpu ?? 0;
    } else if (job.state === queued) {
      line.queued++;
      if (job.queuePosition === 1) line.next = job.queueReason;
    }
  }
  return [...owners.values()].sort((a, b) => a.owner.localeCompare(b.owner));
}

/** `jobexec queue`: running and queued jobs per user, with what they reserve. */
export default class Queue extends JobexecCommand {
  static override summary = "Running and queued jobs per user, with the memory and CPUs they reserve.";
  static override description = `One line per user with running or queued jobs: how many run and how many wait, the memory and CPUs their running jobs reserve (the sum of their --memory and --cpu limits; jobs without limits reserve none), and what the user's next queued job waits for. Yours only, unless you are an admin and give --all.

${commonHelp}`;

  static override examples = [
    { description: "Your running and queued jobs", command: "<%= config.bin %> queue" },
    { description: "Everyone's (admins)", command: "<%= config.bin %> queue --all" },
  ];

  static override flags = {
    all: Flags.boolean({ summary: "Every user's jobs (admins only).", default: false }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Queue);
    const [{ JobState }, { formatBytes }] = await Promise.all([import("../on-demand.ts"), import("../units.ts")]);
    const { client } = await this.connect(flags);
    const jobs: Job[] = [];
    let pageToken = "";
    do {
      const page = await client.listJobs({ states: [JobState.QUEUED, JobState.RUNNING], allOwners: flags.all, pageSize: 1000, pageToken }, { signal: this.abort.signal });
      jobs.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    const lines = summarize(jobs, JobState.QUEUED, JobState.RUNNING);
    if (flags.json) {
      this.printJson({ owners: lines });
      return;
    }
    if (lines.length === 0) {
      process.stderr.write("no running or queued jobs\n");
      return;
    }
    const rows = [
      ["OWNER", "RUNNING", "QUEUED", "MEMORY", "CPUS", "NEXT WAITS FOR"],
      // Owners and reasons come from the server's records: control characters made visible.
      ...lines.map((l) => [visible(l.owner), String(l.running), String(l.queued), formatBytes(l.memoryReservedBytes), String(Math.round(l.cpuReserved * 100) / 100), visible(l.next)]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
    process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n");
  }
}
