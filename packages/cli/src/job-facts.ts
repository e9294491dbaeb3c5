import { constants } from "node:os";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { DependencyCondition, JobState, OutputMode, StopReason, type Job } from "@jobexec/proto";
import { formatDuration } from "./duration.ts";
import type { StateName } from "./state-names.ts";
import { CliError } from "./errors.ts";
import { formatBytes } from "./units.ts";

const stateByValue: Record<number, StateName> = {
  [JobState.QUEUED]: "queued",
  [JobState.RUNNING]: "running",
  [JobState.EXITED]: "exited",
  [JobState.STOPPED]: "stopped",
  [JobState.FAILED]: "failed",
};

/** The proto enum value of a state name. */
export const stateValues: Record<StateName, JobState> = {
  queued: JobState.QUEUED,
  running: JobState.RUNNING,
  exited: JobState.EXITED,
  stopped: JobState.STOPPED,
  failed: JobState.FAILED,
};

/** The lower-case name of a job's state; "unknown" for a value this client does not know. */
export function stateName(job: Job): StateName | "unknown" {
  return stateByValue[job.state] ?? "unknown";
}

/** The state to show people: "stopping" while a stop is under way, else the state's name. */
export function displayState(job: Job): StateName | "stopping" | "unknown" {
  return job.state === JobState.RUNNING && job.stopping !== undefined ? "stopping" : stateName(job);
}

/** A stop under way in words: "requested by alice at 12:00:01 UTC; SIGKILL at 12:00:06 UTC unless it ends first", or "". */
export function stoppingNote(job: Job, formatTime: (date: Date) => string): string {
  const stopping = job.stopping;
  if (job.state !== JobState.RUNNING || stopping === undefined) return "";
  const why = stopping.reason === StopReason.REQUESTED ? `requested${stopping.requestedBy === "" ? "" : ` by ${stopping.requestedBy}`}` :
    stopping.reason === StopReason.TIMEOUT ? "timed out" : stopping.reason === StopReason.OUTPUT_LIMIT ? "output limit exceeded" : "server shutdown";
  const began = dateOf(stopping.beginTime);
  const kill = dateOf(stopping.killTime);
  return `${why}${began ? `, SIGTERM sent at ${formatTime(began)}` : ""}${kill ? `; SIGKILL at ${formatTime(kill)} unless it ends first` : ""}`;
}

/** "merged" or "separate". */
export function outputModeName(job: Job): "merged" | "separate" {
  return job.outputMode === OutputMode.MERGED ? "merged" : "separate";
}

/** A timestamp as a Date, or undefined when unset. */
export function dateOf(timestamp: Timestamp | undefined): Date | undefined {
  return timestamp === undefined ? undefined : timestampDate(timestamp);
}

/** How long the job ran: start to end, or start to `now` while it runs; undefined if it never started. */
export function runtimeMs(job: Job, now: Date = new Date()): number | undefined {
  const start = dateOf(job.startTime);
  if (start === undefined) return undefined;
  return Math.max(0, (dateOf(job.endTime) ?? now).getTime() - start.getTime());
}

/** The number of a signal name such as "SIGKILL", or undefined if this host does not know it. */
export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[name];
}

/**
 * The exit status a shell would report for the ended job: its exit code, 128 + the signal number when a signal
 * killed it, 126 when it failed to start, 1 when it ended in a way that has neither.
 */
export function exitStatus(job: Job): number {
  if (job.state === JobState.FAILED) return 126;
  if (job.exitCode !== undefined) return job.exitCode;
  const signal = job.signal === "" ? undefined : signalNumber(job.signal);
  return signal === undefined ? 1 : 128 + signal;
}

/** The names of stop reasons in JSON. */
export const stopReasonNames: Record<number, string> = {
  [StopReason.REQUESTED]: "requested",
  [StopReason.SERVER_SHUTDOWN]: "server_shutdown",
  [StopReason.TIMEOUT]: "timeout",
  [StopReason.OUTPUT_LIMIT]: "output_limit",
  [StopReason.CANCELLED]: "cancelled",
};

/**
 * The stop reason's name (`requested`, `server_shutdown`, `timeout`, `output_limit`, `cancelled`), or undefined when
 * not stopped.
 */
export function stopReasonName(job: Job): string | undefined {
  return stopReasonNames[job.stopReason];
}

/** The job's timeout in milliseconds, or undefined when it has none. */
export function timeoutMs(job: Job): number | undefined {
  return job.timeout === undefined ? undefined : Number(job.timeout.seconds) * 1000 + Math.round(job.timeout.nanos / 1e6);
}

/**
 * How the job ended, in words: "exit code 3", "killed by SIGKILL, out of memory (OOM kill)", "timed out after 10m,
 * killed by SIGTERM", "killed: output limit exceeded (1 GiB)", "server shutdown, killed by SIGTERM", "exit status
 * unknown: the server restarted while the job ran", "failed to start: reason"; "" while running.
 */
export function outcome(job: Job): string {
  if (job.state === JobState.FAILED) return `failed to start: ${job.failureReason}`;
  if (job.state === JobState.RUNNING) return "";
  if (job.state === JobState.QUEUED) return queueLine(job);
  if (job.stopReason === StopReason.CANCELLED) return "cancelled before it started";
  const parts: string[] = [];
  const timeout = timeoutMs(job);
  if (job.stopReason === StopReason.TIMEOUT) parts.push(timeout === undefined ? "timed out" : `timed out after ${formatDuration(timeout)}`);
  if (job.stopReason === StopReason.SERVER_SHUTDOWN) parts.push("server shutdown");
  const limited = job.stopReason === StopReason.OUTPUT_LIMIT;
  if (limited) parts.push(`killed: output limit exceeded (${formatBytes(Number(job.maxOutputBytes))})`);
  if (job.exitStatusUnknown) parts.push(`exit status unknown: ${job.exitStatusUnknownReason || "the server did not see the job end"}`);
  else if (job.signal !== "" && !limited) parts.push(`killed by ${job.signal}`);
  else if (job.exitCode !== undefined) parts.push(`exit code ${job.exitCode}`);
  if (job.oomKilled) parts.push("out of memory (OOM kill)");
  return parts.join(", ");
}

/** A dependency condition as `jobexec start --after ID:COND` spells it: ok, any or failed. */
export function conditionName(condition: DependencyCondition): "ok" | "any" | "failed" {
  return condition === DependencyCondition.ENDED ? "any" : condition === DependencyCondition.FAILED ? "failed" : "ok";
}

/** Where a queued job is and what it waits for: "#2 of alice's queued, waits for: slot: alice has 64 running (...)". */
export function queueLine(job: Job): string {
  return `#${String(job.queuePosition)} of ${job.owner}'s queued, waits for: ${job.queueReason}`;
}

/**
 * The exit status of `jobexec wait` for an ended job: its exit code (128 + the signal number when a signal killed
 * it) when it ran to its end; else {@link waitCodes}.
 */
export function waitStatus(job: Job): number {
  if (job.state === JobState.FAILED) return job.failureReason.startsWith("dependency ") ? waitCodes.dependencyFailed : waitCodes.failed;
  if (job.state === JobState.STOPPED) return job.stopReason === StopReason.CANCELLED ? waitCodes.cancelled : waitCodes.stopped;
  if (job.exitStatusUnknown) return waitCodes.unknown;
  return exitStatus(job);
}

/** The exit codes of `jobexec wait` that are not a job's own (documented in its help). */
export const waitCodes = { timeout: 124, failed: 125, stopped: 126, cancelled: 127, dependencyFailed: 123, unknown: 122 } as const;

/** The job's command line for display, each word quoted for a POSIX shell when needed. */
export function commandLine(job: Job): string {
  return [job.program, ...job.args].map(shellQuote).join(" ");
}

function shellQuote(word: string): string {
  if (word !== "" && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What a job is isolated from, in words: "network none, private /tmp (64 MiB), read-only system", or "none". */
export function isolationSummary(job: Job): string {
  const i = job.isolation;
  const parts: string[] = [];
  if (i?.privateNetwork === true) parts.push("network none");
  if (i?.privateTmp === true) parts.push(`private /tmp (${formatBytes(Number(i.privateTmpBytes ?? 0))})`);
  if (i?.readOnlySystem === true) parts.push("read-only system");
  return parts.length === 0 ? "none" : parts.join(", ");
}

/** A CliError saying why the job failed to start (exit code 126), or undefined when it did start. */
export function failedToStart(job: Job): CliError | undefined {
  if (job.state !== JobState.FAILED) return undefined;
  return new CliError("failed-to-start", `job ${job.id} failed to start: ${job.failureReason} (\`jobexec status ${job.id}\` shows it)`);
}
