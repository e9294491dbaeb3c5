// Jobs in words and numbers, as `jobexec status` and `jobexec list` put them.
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { JobState, StopReason, type Job } from "@jobexec/proto";
import type { StateName } from "./url-state.ts";
import { visible } from "./visible.ts";

const names: Record<number, StateName> = {
  [JobState.QUEUED]: "queued",
  [JobState.RUNNING]: "running",
  [JobState.EXITED]: "exited",
  [JobState.STOPPED]: "stopped",
  [JobState.FAILED]: "failed",
};

/** The state's lower-case name; "stopping" while a stop is under way. */
export function stateLabel(job: Job): string {
  if (job.state === JobState.RUNNING && job.stopping !== undefined) return "stopping";
  return names[job.state] ?? "unknown";
}

/** The state's name for filters. */
export function stateName(job: Job): StateName | undefined {
  return names[job.state];
}

/** Whether the job has ended (it will not change any more). */
export function ended(job: Job): boolean {
  return job.state === JobState.EXITED || job.state === JobState.STOPPED || job.state === JobState.FAILED;
}

/** Milliseconds since the epoch of a timestamp; undefined when unset. */
export function millis(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : Number(timestamp.seconds) * 1000 + Math.floor(timestamp.nanos / 1e6);
}

/** A duration message in milliseconds. */
export function durationMillis(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : Number(duration.seconds) * 1000 + Math.round(duration.nanos / 1e6);
}

/** A duration in milliseconds as jobexec prints them: 850ms, 4.2s, 12s, 3m 5s, 2h 10m, 1d 4h. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const [d, h, m, s] = [Math.floor(seconds / 86_400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60];
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  return s > 0 ? `${m}m ${s}s` : `${m}m`;
}

const units = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Bytes in binary units: 512 B, 1.5 MiB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let power = 0;
  while (power < units.length - 1 && bytes >= 1024 ** (power + 1)) power++;
  return `${Number((bytes / 1024 ** power).toFixed(1))} ${units[power]}`;
}

/** A moment as local date and time, to the second. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return "";
  const date = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** How long the job ran (to `now` while it runs); undefined if it never started. */
export function runtime(job: Job, now: number): number | undefined {
  const start = millis(job.startTime);
  if (start === undefined) return undefined;
  return Math.max(0, (millis(job.endTime) ?? now) - start);
}

/** A word of a command line, quoted for a POSIX shell when needed. */
function quote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The job's program and arguments as a shell command line, control characters as escapes. */
export function commandLine(job: Pick<Job, "program" | "args">): string {
  return visible([job.program, ...job.args].map(quote).join(" "));
}

/** How the job ended, or where it waits, in words; "" while it runs. */
export function outcome(job: Job): string {
  switch (job.state) {
    case JobState.FAILED:
      return `failed to start: ${job.failureReason}`;
    case JobState.RUNNING:
      return job.stopping === undefined ? "" : "stopping";
    case JobState.QUEUED:
      return `#${job.queuePosition} of ${job.owner}'s queued, waits for: ${job.queueReason}`;
  }
  if (job.stopReason === StopReason.CANCELLED) return "cancelled before it started";
  const parts: string[] = [];
  const timeout = durationMillis(job.timeout);
  if (job.stopReason === StopReason.TIMEOUT) parts.push(timeout === undefined ? "timed out" : `timed out after ${formatDuration(timeout)}`);
  if (job.stopReason === StopReason.SERVER_SHUTDOWN) parts.push("server shutdown");
  if (job.stopReason === StopReason.REQUESTED) parts.push(job.stoppedBy === "" ? "stopped" : `stopped by ${job.stoppedBy}`);
  const limited = job.stopReason === StopReason.OUTPUT_LIMIT;
  if (limited) parts.push(`killed: output limit exceeded (${formatBytes(Number(job.maxOutputBytes))})`);
  if (job.exitStatusUnknown) parts.push(`exit status unknown: ${job.exitStatusUnknownReason || "the server did not see the job end"}`);
  else if (job.signal !== "" && !limited) parts.push(`killed by ${job.signal}`);
  else if (job.exitCode !== undefined) parts.push(`exit code ${job.exitCode}`);
  if (job.oomKilled) parts.push("out of memory (OOM kill)");
  return parts.join(", ");
}

/** CPU time of a job's usage. */
export function cpuTime(job: Job): string {
  return job.usage === undefined ? "" : formatDuration(Number(job.usage.cpuUsageUsec) / 1000);
}

/** Memory now while running, else the peak. */
export function memory(job: Job): string {
  const usage = job.usage;
  if (usage === undefined || usage.unavailable.includes("memory")) return "";
  return job.state === JobState.RUNNING ? formatBytes(Number(usage.memoryCurrentBytes)) : `peak ${formatBytes(Number(usage.memoryPeakBytes))}`;
}
