// The records of every job the manager knows, in creation order, written through to the durable store.
import { JobError, toJobError } from "../job-error.ts";
import { isJobId } from "../job-id.ts";
import type { ValidSpec } from "../spec/validate-spec.ts";
import type { JobRecord, QueuedRequest } from "../supervise/job-record.ts";
import type { ListFilter, LogEvent, UsageTimeline } from "../types.ts";
import { newRow, recordOf, rowOf } from "./job-row.ts";
import type { JobStore } from "./job-store.ts";
import { WriteRetry } from "./write-retry.ts";

/**
 * Every job's record by id, and the same records ordered by seq. Jobs are added when their spawn settled, which is
 * not the order their seqs were given in when starts overlap: the ordered list keeps seq order whatever the order of
 * adding, so that a page continuing after a seq never repeats or skips a job. Reads never touch the store; each
 * change of a record worth keeping is written through to it, and a write that fails is logged and retried (see
 * {@link WriteRetry}) while the in-memory record stays authoritative.
 */
export class JobTable {
  readonly #records = new Map<string, JobRecord>();
  readonly #bySeq: JobRecord[] = [];
  readonly #store: JobStore;
  readonly #retry: WriteRetry;

  constructor(store: JobStore, log: (event: LogEvent) => void) {
    this.#store = store;
    this.#retry = new WriteRetry(store.path, log);
  }

  /** The stored records, oldest first, their output in `<jobsDir>/<id>` (for start-up; they are not added yet). */
  restore(jobsDir: string): JobRecord[] {
    const storedArgs = (seq: number): string | undefined => this.#store.args(seq);
    return this.#store.load().map((row) => recordOf(row, jobsDir, storedArgs));
  }

  /**
   * Stores a job about to be spawned (or, with `queued`, a queued job) and returns its seq. A failure is JobError
   * ("resource_exhausted" when the disk is full): the job must not start or queue, as nothing would remember it.
   */
  insert(id: string, owner: string, spec: ValidSpec, queued?: { request: QueuedRequest; priority: number }): number {
    try {
      return this.#store.insert(newRow(id, owner, spec, queued));
    } catch (err) {
      throw toJobError(`cannot record the job in ${this.#store.path}`, sqliteErrno(err));
    }
  }

  /**
   * Stores a queued job as admitted (running, no start time yet, its request and cgroup kept) before its spawn, at
   * once: after a crash its record says that it may have started, and recovery queues it again only on proof that it
   * did not (see supervise/unstarted.ts). A failure is JobError, and the job must not start.
   */
  markAdmitted(record: JobRecord): void {
    // A pending retry of its queued row must not overwrite this one.
    this.#retry.forget(record.id);
    try {
      this.#store.update({ ...rowOf(record), state: "running" });
    } catch (err) {
      throw toJobError(`cannot record the job's start in ${this.#store.path}`, sqliteErrno(err));
    }
  }

  /**
   * The stored request of a queued (or admitted, not yet started) job: its spec as given lives in the store only. A
   * failure (or a row without one) is JobError.
   */
  request(record: JobRecord): QueuedRequest {
    let json: string | undefined;
    try {
      json = this.#store.queuedRequest(record.seq);
    } catch (err) {
      throw toJobError(`cannot read the queued job's request from ${this.#store.path}`, err);
    }
    if (json === undefined) throw new JobError("internal", `the stored record of queued job ${record.id} has no request`);
    return JSON.parse(json) as QueuedRequest;
  }

  /** Removes the stored row of a job that was inserted but did not start. */
  discard(id: string, seq: number): void {
    this.#retry.run(id, () => this.#store.delete(seq));
  }

  add(record: JobRecord): void {
    record.storedArgs ??= (seq) => this.#store.args(seq);
    this.#records.set(record.id, record);
    // Nearly always the newest: found from the end in a step or two.
    let at = this.#bySeq.length;
    while (at > 0 && (this.#bySeq[at - 1] as JobRecord).seq > record.seq) at--;
    this.#bySeq.splice(at, 0, record);
  }

  /**
   * Writes the record as it is now to the store (retried until it succeeds). Once stored, an ended job's timeline is
   * dropped from memory: {@link timeline} reads it back when asked for.
   */
  save(record: JobRecord): void {
    if (this.#records.get(record.id) !== record) return; // deleted meanwhile: nothing to keep
    this.#retry.run(record.id, () => {
      this.#store.update(rowOf(record));
      record.timeline = undefined;
    });
  }

  /** The usage timeline of an ended job: held until stored, then read from the store; undefined without one. */
  timeline(record: JobRecord): UsageTimeline | undefined {
    let json = record.timeline;
    try {
      json ??= this.#store.timeline(record.seq);
    } catch (err) {
      throw toJobError(`cannot read the job's timeline from ${this.#store.path}`, err);
    }
    return json === undefined ? undefined : (JSON.parse(json) as UsageTimeline);
  }

  /** The record of `id`; JobError "invalid_argument" for a malformed id, "not_found" for an unknown one. */
  find(id: string): JobRecord {
    if (typeof id !== "string" || !isJobId(id)) throw new JobError("invalid_argument", `malformed job id ${JSON.stringify(id)}`);
    const record = this.#records.get(id);
    if (record === undefined) throw new JobError("not_found", `no job ${id}`);
    return record;
  }

  /** The record of `id`, or undefined. */
  get(id: string): JobRecord | undefined {
    return this.#records.get(id);
  }

  /** Forgets a job, in memory at once and in the store (retried until it succeeds). */
  delete(record: JobRecord): void {
    if (this.#records.get(record.id) !== record) return;
    this.#records.delete(record.id);
    this.#bySeq.splice(this.#below(record.seq + 1) - 1, 1);
    this.#retry.run(record.id, () => this.#store.delete(record.seq));
  }

  /** Records matching `filter`, newest first (by seq). */
  list(filter: ListFilter): JobRecord[] {
    const limit = filter.limit ?? Infinity;
    const out: JobRecord[] = [];
    const start = filter.olderThan === undefined ? this.#bySeq.length : this.#below(filter.olderThan);
    for (let i = start - 1; i >= 0 && out.length < limit; i--) {
      const record = this.#bySeq[i] as JobRecord;
      if (filter.owner !== undefined && record.owner !== filter.owner) continue;
      if (filter.states !== undefined && !filter.states.includes(record.state)) continue;
      out.push(record);
    }
    return out;
  }

  /** Every record, oldest first. */
  all(): JobRecord[] {
    return [...this.#bySeq];
  }

  /** How many records have a seq below `seq` (binary search). */
  #below(seq: number): number {
    let low = 0;
    let high = this.#bySeq.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.#bySeq[mid] as JobRecord).seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /**
   * Tries pending writes one last time and closes the store; returns how many writes were lost (each was logged
   * when it first failed).
   */
  close(): number {
    const lost = this.#retry.flush();
    this.#store.close();
    return lost;
  }
}

// node:sqlite reports a full disk as SQLITE_FULL, not ENOSPC: name it so toJobError sees the exhaustion.
function sqliteErrno(err: unknown): unknown {
  const errcode = (err as { errcode?: unknown } | undefined)?.errcode;
  // SQLITE_FULL is 13; extended codes keep it in the low byte.
  if (typeof errcode === "number" && (errcode & 0xff) === 13) return Object.assign(new Error(String((err as Error).message)), { code: "ENOSPC", cause: err });
  return err;
}
