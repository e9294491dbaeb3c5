import * as Flags from "@oclif/core/flags";
import type { GetQueueSummaryResponse } from "@jobexec/proto";
import { adminOnly } from "../admin-only.ts";
import { commonHelp, connectionFlags, jsonFlag, JobexecCommand } from "../base-command.ts";
import { visible } from "../visible.ts";

/**
 * The JSON form of `jobexec queue` (JSON.md, "Queue"). `queued` counts every queued job, as `list --state queued`
 * does; `held` those of them held back by a dependency or a start time (the API counts the two apart).
 */
export function queueJson(summary: GetQueueSummaryResponse) {
  const host = summary.host;
  return {
    owners: summary.owners.map((o) => ({
      owner: o.owner,
      running: o.running,
      queued: o.queued + o.held,
      held: o.held,
      memoryReservedBytes: Number(o.reservedMemoryBytes),
      cpuReserved: o.reservedCpus,
      weight: o.weight,
      next: o.nextReason,
    })),
    host: {
      running: host?.running ?? 0,
      queued: (host?.queued ?? 0) + (host?.held ?? 0),
      held: host?.held ?? 0,
      memoryReservedBytes: Number(host?.reservedMemoryBytes ?? 0n),
      cpuReserved: host?.reservedCpus ?? 0,
      // 0 on the wire: no limit.
      maxRunning: host?.maxRunning ? host.maxRunning : null,
      memoryCapacityBytes: Number(host?.memoryCapacityBytes ?? 0n),
      cpuCapacity: host?.cpuCapacity ?? 0,
      maxRunningPerUser: host?.maxRunningPerUser ?? 0,
      maxRunningPerAdmin: host?.maxRunningPerAdmin ?? 0,
    },
  };
}

const cpuText = (cpus: number): string => String(Math.round(cpus * 100) / 100);

/** `jobexec queue`: running and queued jobs per user, with what they reserve, against the host's capacities. */
export default class Queue extends JobexecCommand {
  static override summary = "Running and queued jobs per user, with the memory and CPUs they reserve, against the host's capacities.";
  static override description = `One line per user with running or queued jobs: how many run, how many are queued (QUEUED) and how many of those wait for a dependency or a start time (HELD), the memory and CPUs their running jobs reserve (the sum of their --memory and --cpu limits; jobs without limits reserve none), the user's fair-share weight, and what the user's next queued job waits for. Then the host's line: every user's jobs together against the server's capacities (--max-running, --memory-capacity, --cpu-capacity) and the running jobs one user may have. Your line only, unless you are an admin and give --all or --owner.

${commonHelp}`;

  static override examples = [
    { description: "Your running and queued jobs, and the host's totals", command: "<%= config.bin %> queue" },
    { description: "Everyone's (admins)", command: "<%= config.bin %> queue --all" },
    { description: "One user's (admins)", command: "<%= config.bin %> queue --owner alice" },
  ];

  static override flags = {
    all: Flags.boolean({ summary: "Every user's jobs (admins only).", default: false }),
    owner: Flags.string({ summary: "Only this user's jobs (admins only).", helpValue: "NAME" }),
    ...jsonFlag,
    ...connectionFlags,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Queue);
    const { formatBytes } = await import("../units.ts");
    const { client } = await this.connect(flags);
    const response = await client.getQueueSummary({ allOwners: flags.all, owner: flags.owner ?? "" }, { signal: this.abort.signal }).catch(async (error: unknown) => {
      throw flags.all || flags.owner !== undefined ? await adminOnly(error, "queue") : error;
    });
    const summary = queueJson(response);
    if (flags.json) {
      this.printJson(summary);
      return;
    }
    const { owners, host } = summary;
    if (owners.length === 0) process.stderr.write("no running or queued jobs\n");
    else {
      const rows = [
        ["OWNER", "RUNNING", "QUEUED", "HELD", "MEMORY", "CPUS", "WEIGHT", "NEXT WAITS FOR"],
        // Owners and reasons come from the server's records: control characters made visible.
        ...owners.map((l) => [visible(l.owner), String(l.running), String(l.queued), String(l.held), formatBytes(l.memoryReservedBytes), cpuText(l.cpuReserved), String(l.weight), visible(l.next)]),
      ];
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0))) ?? [];
      process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n") + "\n");
    }
    const running = host.maxRunning === null ? `${String(host.running)} running (no host limit)` : `${String(host.running)} of ${String(host.maxRunning)} running`;
    process.stdout.write(
      `Host: ${running}, ${String(host.queued)} queued (${String(host.held)} held); memory ${formatBytes(host.memoryReservedBytes)} of ${formatBytes(host.memoryCapacityBytes)} reserved, ` +
        `CPUs ${cpuText(host.cpuReserved)} of ${cpuText(host.cpuCapacity)}; at most ${String(host.maxRunningPerUser)} running per user (admins ${String(host.maxRunningPerAdmin)})\n`,
    );
  }
}
