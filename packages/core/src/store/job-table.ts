// The records of every job the manager knows, in creation order.
import { JobError } from "../job-error.ts";
import { isJobId } from "../job-id.ts";
import type { JobRecord } from "../supervise/job-record.ts";
import type { ListFilter } from "../types.ts";

/**
 * Every job's record by id, and the same records ordered by seq. Jobs are added when their spawn settled, which is
 * not the order their seqs were given in when starts overlap: the ordered list keeps seq order whatever the order of
 * adding, so that a page continuing after a seq never repeats or skips a job.
 */
export class JobTable {
  readonly #records = new Map<string, JobRecord>();
  readonly #bySeq: JobRecord[] = [];
  #lastSeq = 0;

  /** The creation order number of the next job. */
  nextSeq(): number {
    return ++this.#lastSeq;
  }

  add(record: JobRecord): void {
    this.#records.set(record.id, record);
    // Nearly always the newest: found from the end in a step or two.
    let at = this.#bySeq.length;
    while (at > 0 && (this.#bySeq[at - 1] as JobRecord).seq > record.seq) at--;
    this.#bySeq.splice(at, 0, record);
  }

  /** The record of `id`; JobError "invalid_argument" for a malformed id, "not_found" for an unknown one. */
  find(id: string): JobRecord {
    if (typeof id !== "string" || !isJobId(id)) throw new JobError("invalid_argument", `malformed job id ${JSON.stringify(id)}`);
    const record = this.#records.get(id);
    if (record === undefined) throw new JobError("not_found", `no job ${id}`);
    return record;
  }

  delete(id: string): void {
    const record = this.#records.get(id);
    if (record === undefined) return;
    this.#records.delete(id);
    this.#bySeq.splice(this.#below(record.seq + 1) - 1, 1);
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
}
