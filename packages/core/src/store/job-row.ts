// A job's record as a stored row, and back.
import type { ValidSpec } from "../spec/validate-spec.ts";
import { type EndState, jobDir, JobRecord, type QueuedRequest, type QueuedTerms } from "../supervise/job-record.ts";
import { NO_ISOLATION } from "../spec/isolation.ts";
import type { Isolation, OutputMode, StopReason, Usage } from "../types.ts";
import type { JobRow } from "./job-store.ts";

const time = (date: Date | undefined): number | null => (date === undefined ? null : date.getTime());
const dateOf = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

// What an update of a record that still has its request writes: the store keeps the request it holds.
const keptRequest = "kept";

/**
 * The row of a record as it is now, but its arguments and request, which are stored once (see {@link newRow}): the
 * request column is null once the record holds none, else a placeholder an update does not write.
 */
export function rowOf(record: JobRecord): Omit<JobRow, "args"> {
  const { spec, exit } = record;
  return {
    seq: record.seq,
    id: record.id,
    owner: record.owner,
    account: spec.account.name,
    uid: spec.account.uid,
    gid: spec.account.gid,
    program: spec.program,
    cwd: spec.cwd,
    output_mode: spec.outputMode,
    limits: JSON.stringify(spec.limits),
    isolation: JSON.stringify(spec.isolation),
    max_output_bytes: spec.maxOutputBytes,
    timeout_ms: spec.timeoutMs ?? null,
    state: record.state,
    pid: record.pid,
    pid_start_ticks: record.startTicks ?? null,
    cgroup: record.cgroupDir ?? null,
    created_at: record.createdAt.getTime(),
    started_at: time(record.startedAt),
    ended_at: time(record.endedAt),
    end_time_approximate: record.endTimeApproximate ? 1 : 0,
    exit_code: exit?.code ?? null,
    signal: exit?.signal ?? null,
    exit_status_unknown_reason: record.exitStatusUnknownReason ?? null,
    oom_killed: record.oomKilled ? 1 : 0,
    stop_reason: record.stopReason ?? null,
    stopped_by: record.stopRequestedBy ?? null,
    failure_reason: record.failureReason ?? null,
    usage: JSON.stringify(record.usage),
    stdout_bytes: record.output.stdout,
    stderr_bytes: record.output.stderr,
    // Written once, at insert (see newRow): an update only clears it (null), any other value keeps the stored one.
    queued_request: record.request === undefined ? null : keptRequest,
    priority: record.priority,
    timeline: record.timeline ?? null,
  };
}

/**
 * The row a job is inserted with before its spawn, or queued with its request: that of a fresh record (the store then
 * gives it its seq), with its arguments, which are stored once.
 */
export function newRow(id: string, owner: string, spec: ValidSpec, queued?: { request: QueuedRequest; priority: number }): Omit<JobRow, "seq"> {
  const record = new JobRecord(id, 0, owner, spec, "", undefined);
  if (queued !== undefined) {
    record.state = "queued";
    record.priority = queued.priority;
  }
  const { seq: _seq, ...row } = rowOf(record);
  return { ...row, args: JSON.stringify(spec.args), queued_request: queued === undefined ? null : JSON.stringify(queued.request) };
}

/** The terms of a stored request (see QueuedRequest), without its spec: what a queued record holds. */
export function termsOf(json: string): QueuedTerms {
  const { spec: _spec, ...terms } = JSON.parse(json) as QueuedRequest;
  return terms;
}

/**
 * The record of a stored row, its output in `<jobsDir>/<id>`; `storedArgs` reads its arguments back when they are
 * too long to hold (see JobRecord.args). An ended job's record is final (its `ended` resolved); a running one is for
 * supervise/ to adopt or end; a queued one keeps its request for its admission. The environment is not stored with
 * the record (it may hold secrets and nothing
 * reports it), so a restored spec has none; nor are the account's home and groups, which only a start needs.
 */
export function recordOf(row: JobRow, jobsDir: string, storedArgs?: (seq: number) => string | undefined): JobRecord {
  const account = { name: row.account ?? "", uid: row.uid ?? 0, gid: row.gid ?? 0, groups: [], home: "", drop: false };
  const spec: ValidSpec = {
    account,
    program: row.program,
    executable: row.program,
    args: [],
    env: {},
    cwd: row.cwd,
    limits: JSON.parse(row.limits) as ValidSpec["limits"],
    outputMode: row.output_mode as OutputMode,
    // A row written before isolation existed had none.
    isolation: row.isolation === null ? { ...NO_ISOLATION } : { ...NO_ISOLATION, ...(JSON.parse(row.isolation) as Partial<Isolation>) },
    maxOutputBytes: row.max_output_bytes,
    ...(row.timeout_ms === null ? {} : { timeoutMs: row.timeout_ms }),
  };
  const record = new JobRecord(row.id, row.seq, row.owner, spec, jobDir(jobsDir, row.id), row.cgroup ?? undefined);
  // Kept as stored, parsed only when reported: thousands of records load without parsing their arguments.
  record.restoreArgs(row.args, storedArgs);
  record.createdAt = new Date(row.created_at);
  record.pid = row.pid;
  record.startTicks = row.pid_start_ticks ?? undefined;
  record.startedAt = dateOf(row.started_at);
  record.endTimeApproximate = row.end_time_approximate === 1;
  if (row.exit_code !== null || row.signal !== null) record.exit = { code: row.exit_code, signal: row.signal as NodeJS.Signals | null };
  record.exitStatusUnknownReason = row.exit_status_unknown_reason ?? undefined;
  record.oomKilled = row.oom_killed === 1;
  record.stopReason = (row.stop_reason ?? undefined) as StopReason | undefined;
  record.stopRequestedBy = row.stopped_by ?? undefined;
  record.failureReason = row.failure_reason ?? undefined;
  record.usage = JSON.parse(row.usage) as Usage;
  record.output = { stdout: row.stdout_bytes, stderr: row.stderr_bytes };
  record.priority = row.priority;
  // Kept while queued, and from the admission to the record of the start (see JobTable.markAdmitted).
  if (row.queued_request !== null) record.request = termsOf(row.queued_request);
  if (row.state === "queued") record.state = "queued";
  else if (row.state !== "running") record.finish(row.state as EndState, dateOf(row.ended_at) ?? record.createdAt);
  return record;
}
