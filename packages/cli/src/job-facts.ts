import { constants } from "node:os";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { JobState, OutputMode, type Job } from "@jobexec/proto";
import type { StateName } from "./state-names.ts";
import { formatBytes } from "./units.ts";

const stateByValue: Record<number, StateName> = {
  [JobState.RUNNING]: "running",
  [JobState.EXITED]: "exited",
  [JobState.STOPPED]: "stopped",
  [JobState.FAILED]: "failed",
};

/** The proto enum value of a state name. */
export const stateValues: Record<StateName, JobState> = {
  running: JobState.RUNNING,
  exited: JobState.EXITED,
  stopped: JobState.STOPPED,
  failed: JobState.FAILED,
};

/** The lower-case name of a job's state; "unknown" for a value this client does not know. */
export function stateName(job: Job): StateName | "unknown" {
  return stateByValue[job.state] ?? "unknown";
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
 * killed it, 1 when it failed to start (or ended in a way that has neither).
 */
export function exitStatus(job: Job): number {
  if (job.exitCode !== undefined) return job.exitCode;
  const signal = job.signal === "" ? undefined : signalNumber(job.signal);
  return signal === undefined ? 1 : 128 + signal;
}

/** How the job ended, in words: "exit code 3", "killed by SIGKILL (OOM)", "failed: reason"; "" while running. */
export function outcome(job: Job): string {
  const oom = job.oomKilled ? ", out of memory (OOM kill)" : "";
  if (job.state === JobState.FAILED) return `failed to start: ${job.failureReason}`;
  if (job.state === JobState.RUNNING) return "";
  if (job.signal !== "") return `killed by ${job.signal}${oom}`;
  if (job.exitCode !== undefined) return `exit code ${job.exitCode}${oom}`;
  return oom.slice(2);
}

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
