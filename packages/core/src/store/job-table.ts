// The records of every job the manager knows, in creation order.
import { JobError } from "../job-error.ts";
import { isJobId } from "../job-id.ts";
import type { JobRecord } from "../supervise/job-record.ts";
import type { ListFilter } from "../types.ts";

/** Every job's record by id, kept in creation order so listings come out newest first without sorting. */
export class JobTable {
  readonly #records = new Map<string, JobRecord>();
  #lastSeq = 0;

  /** The creation order number of the next job. */
  nextSeq(): number {
    return ++this.#lastSeq;
  }

  add(record: JobRecord): void {
    this.#records.set(record.id, record);
  }

  /** The record of `id`; JobError "invalid_argument" for a malformed id, "not_found" for an unknown one. */
  find(id: string): JobRecord {
    if (typeof id !== "string" || !isJobId(id)) throw new JobError("invalid_argument", `malformed job id ${JSON.stringify(id)}`);
    const record = this.#records.get(id);
    if (record === undefined) throw new JobError("not_found", `no job ${id}`);
    return record;
  }

  delete(id: string): void {
    this.#records.delete(id);
  }

  /** Records matching `filter`, newest first (by seq, which is insertion order). */
  list(filter: ListFilter): JobRecord[] {
    const records = [...this.#records.values()];
    const limit = filter.limit ?? Infinity;
    const out: JobRecord[] = [];
    for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
      const record = records[i] as JobRecord;
      if (filter.olderThan !== undefined && record.seq >= filter.olderThan) continue;
      if (filter.owner !== undefined && record.owner !== filter.owner) continue;
      if (filter.states !== undefined && !filter.states.includes(record.state)) continue;
      out.push(record);
    }
    return out;
  }

  /** Every record, oldest first. */
  all(): JobRecord[] {
    return [...this.#records.values()];
  }
}
