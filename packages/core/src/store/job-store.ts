// What the manager needs from durable storage of job records: one row per job, written at a few moments of its life.

/**
 * One job as stored: a column per field (see migrations.ts). Times are milliseconds since the epoch, booleans 0/1,
 * `args`, `limits`, `isolation`, `usage`, `timeline` and `queued_request` JSON text.
 */
export interface JobRow {
  seq: number;
  id: string;
  owner: string;
  account: string | null;
  uid: number | null;
  gid: number | null;
  program: string;
  args: string;
  cwd: string;
  output_mode: string;
  limits: string;
  isolation: string | null;
  max_output_bytes: number;
  timeout_ms: number | null;
  state: string;
  pid: number;
  pid_start_ticks: number | null;
  cgroup: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  end_time_approximate: number;
  exit_code: number | null;
  signal: string | null;
  exit_status_unknown_reason: string | null;
  oom_killed: number;
  stop_reason: string | null;
  stopped_by: string | null;
  failure_reason: string | null;
  usage: string;
  stdout_bytes: number;
  stderr_bytes: number;
  /**
   * A queued job's request and quota as JSON (see QueuedRequest); null once it started or ended. Written once, at
   * insert: an update only clears it (null), any other value leaves the stored one as it is.
   */
  queued_request: string | null;
  priority: number;
  /**
   * An ended job's usage timeline (JSON of a UsageTimeline). Written once, when the job ended: null in an update leaves
   * the stored one as it is, and load() leaves it out (null) so that start-up never reads timelines; see
   * {@link JobStore.timeline}.
   */
  timeline: string | null;
}

/**
 * Durable job records. Writes are synchronous and small (a job's row is written when it is created, started, asked
 * to stop and ended, never per output byte); a failed write throws and is the caller's to retry.
 */
export interface JobStore {
  /** Where the records are, for messages. */
  readonly path: string;
  /** Stores a new job; returns its seq, larger than any seq this store ever gave (never reused). */
  insert(row: Omit<JobRow, "seq">): number;
  /** Overwrites the row of job `row.seq`, all but its arguments and request (written at insert, never changed). */
  update(row: Omit<JobRow, "args">): void;
  /** The stored arguments (JSON) of job `seq`; undefined for a missing row. */
  args(seq: number): string | undefined;
  /** The stored request (JSON) of queued job `seq`; undefined for a missing row or one without a request. */
  queuedRequest(seq: number): string | undefined;
  /** Removes a job's row; a missing one is fine. */
  delete(seq: number): void;
  /** Every row, oldest (lowest seq) first, without timelines (`timeline` null). */
  load(): JobRow[];
  /** The stored timeline of job `seq`, or undefined when it has none. */
  timeline(seq: number): string | undefined;
  close(): void;
}
