import type { Job, Pressure, UsageTimeline } from "@jobexec/proto";
import { JobState } from "@jobexec/proto";
import { formatDuration } from "./duration.ts";
import { dateOf } from "./job-facts.ts";
import { formatTime } from "./format-time.ts";
import { formatBytes } from "./units.ts";

// What a job's usage amounted to, for `jobexec status`: peaks, OOM kills, throttling, pressure, and the timeline.

function usec(value: bigint): string {
  return formatDuration(Number(value) / 1000);
}

function times(n: bigint, what: string): string {
  return `${what} ${n} time${n === 1n ? "" : "s"}`;
}

/**
 * The status lines Peak, OOM, Throttled and Pressure. A line whose figures the host does not expose (no memory, pids
 * or cpu controller, no pressure stall information) is left out, never shown as 0.
 */
export function usageSummaryLines(job: Job): [string, string][] {
  const usage = job.usage;
  if (usage === undefined) return [];
  const lines: [string, string][] = [];
  // Shown with the peaks only newer kernels keep (swap, tasks); memory's alone is already on the Memory line.
  if (usage.memorySwapPeakBytes !== undefined || usage.pidsPeak !== undefined) {
    const peaks = [
      !usage.unavailable.includes("memory") && `memory ${formatBytes(Number(usage.memoryPeakBytes))}`,
      usage.memorySwapPeakBytes !== undefined && `swap ${formatBytes(Number(usage.memorySwapPeakBytes))}`,
      usage.pidsPeak !== undefined && `${usage.pidsPeak} task${usage.pidsPeak === 1n ? "" : "s"}`,
    ].filter((p): p is string => typeof p === "string");
    lines.push(["Peak", peaks.join(", ")]);
  }
  const oom = oomLine(job);
  if (oom !== undefined) lines.push(["OOM", oom]);
  if (usage.cpuThrottledPeriods !== undefined) {
    lines.push(["Throttled", `${usage.cpuThrottledPeriods} of ${usage.cpuPeriods ?? 0n} CPU periods, ${usec(usage.cpuThrottledUsec)}`]);
  }
  const pressure = (["cpu", "memory", "io"] as const).flatMap((resource) => {
    const p = usage[`${resource}Pressure`];
    return p === undefined ? [] : [`${resource} ${pressureText(p)}`];
  });
  if (pressure.length > 0) lines.push(["Pressure", pressure.join("; ")]);
  return lines;
}

function oomLine(job: Job): string | undefined {
  const events = job.usage?.memoryEvents;
  if (events === undefined) return undefined;
  const limits = [events.high > 0n && times(events.high, "over memory.high"), events.max > 0n && times(events.max, "at memory.max")].filter((p): p is string => typeof p === "string");
  const besides = limits.length === 0 ? "" : ` (${limits.join(", ")})`;
  if (events.oomKill === 0n) return `none${events.oom > 0n ? `, ${times(events.oom, "out of memory")} with nothing to kill` : ""}${besides}`;
  const killed = `${events.oomKill} process${events.oomKill === 1n ? "" : "es"} OOM-killed`;
  // A normal exit after an OOM kill: the kill took another process of the job, and the main process lived on.
  const main = job.state === JobState.RUNNING ? "" : job.exitCode !== undefined ? `; the main process survived (exit code ${job.exitCode})` : job.signal !== "" ? `; the main process was killed (${job.signal})` : "";
  return `${killed}${main}${besides}`;
}

function pressureText(p: Pressure): string {
  const kind = (name: string, total: bigint, avg10: number | undefined, avg60: number | undefined): string =>
    `${name} ${usec(total)}${avg10 === undefined ? "" : ` (${avg10.toFixed(2)}% last 10s, ${(avg60 ?? 0).toFixed(2)}% last 60s)`}`;
  const parts = [kind("some", p.someTotalUsec, p.someAvg10, p.someAvg60)];
  if (p.fullTotalUsec !== undefined) parts.push(kind("full", p.fullTotalUsec, p.fullAvg10, p.fullAvg60));
  return parts.join(", ");
}

const bars = "▁▂▃▄▅▆▇█";

/** A row of bars for `values` scaled to their maximum; a missing value is a space. */
export function sparkline(values: (number | undefined)[]): string {
  const max = Math.max(0, ...values.filter((v): v is number => v !== undefined));
  return values.map((v) => (v === undefined ? " " : bars[max === 0 ? 0 : Math.min(bars.length - 1, Math.round((v / max) * (bars.length - 1)))])).join("");
}

/** The `status --timeline` block: the span sampled, then a sparkline row for CPU and one for memory. */
export function formatTimeline(timeline: UsageTimeline | undefined): string {
  const samples = timeline?.samples ?? [];
  if (timeline === undefined || samples.length === 0) return "  Timeline: none (the job had no cgroup, or the server samples no usage)\n";
  const first = dateOf(samples[0]?.time);
  const last = dateOf(samples.at(-1)?.time);
  const every = timeline.interval === undefined ? "" : `, sampled every ${formatDuration(Number(timeline.interval.seconds) * 1000 + timeline.interval.nanos / 1e6)}`;
  const lines = [`  Timeline: ${first ? formatTime(first) : "?"} to ${last ? formatTime(last) : "?"} (${samples.length} point${samples.length === 1 ? "" : "s"}${every})`];
  const cpu = samples.map((s) => s.cpu);
  if (cpu.some((v) => v !== undefined)) lines.push(`       CPU: ${sparkline(cpu)}  max ${Math.max(...cpu.map((v) => v ?? 0)).toFixed(2)} CPU`);
  const memory = samples.map((s) => (s.memoryBytes === undefined ? undefined : Number(s.memoryBytes)));
  if (memory.some((v) => v !== undefined)) lines.push(`    Memory: ${sparkline(memory)}  max ${formatBytes(Math.max(...memory.map((v) => v ?? 0)))}`);
  return `${lines.join("\n")}\n`;
}
