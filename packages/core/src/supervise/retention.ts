// Which finished jobs to remove: those past the retention period, and each owner's oldest while that owner is over
// a per-user bound (output on disk, records, their bytes), then the largest owner's oldest while all are over budget.
import { atTime } from "./deadline.ts";

/** What retention needs of a finished job (a JobRecord). */
export interface Retained {
  readonly owner: string;
  readonly endedAt: Date | undefined;
  /** Bytes its output takes on disk (allocated blocks): what the output budgets count. */
  readonly outputDisk: number;
  /** About how many bytes its stored record takes. */
  readonly storedBytes: number;
}

/** What finished jobs may keep. */
export interface RetentionBounds {
  /** A finished job goes this long after it ended. */
  retainMs: number;
  /** Output on disk of every owner's finished jobs together. */
  outputBudgetBytes: number;
  /** Output on disk of one owner's finished jobs. */
  outputBudgetPerUserBytes: number;
  /** Finished job records of one owner. */
  maxRecordsPerUser: number;
  /** Bytes of one owner's finished job records. */
  maxRecordBytesPerUser: number;
}

/** One finished job with its sizes as they were when it was added (final: it ended). */
interface Entry<T> {
  record: T;
  disk: number;
  stored: number;
}

/** One owner's finished jobs, in end order, and their totals. */
interface Owner<T> {
  name: string;
  entries: Entry<T>[];
  disk: number;
  stored: number;
}

const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000]];

/** A period for a log line: "7d", "36h", "1500 ms". */
function period(ms: number): string {
  const [unit, size] = units.find(([, size]) => ms >= size && ms % size === 0) ?? ["ms", 1];
  return `${String(ms / size)}${unit === "ms" ? " ms" : unit}`;
}
const endOf = (record: Retained): number => record.endedAt?.getTime() ?? 0;

/**
 * Keeps each owner's finished jobs in the order they ended, with their totals, so that each check looks at the
 * oldest ones only. A job is due when it ended more than `retainMs` ago; or when it is its owner's oldest and that
 * owner's finished jobs exceed a per-user bound (output on disk, number of records, bytes of records); or, once every
 * owner is within bounds, when the output of all finished jobs still exceeds the host-wide budget and it is the oldest
 * of the owner with the most output. So one user's jobs, however they write or allocate, only ever remove that user's
 * own older jobs, unless the host-wide budget is reached; then the largest user's go first. `remove` is called for
 * each due job (the caller forgets its record and output, and logs `why`). One timer waits for the next expiry, so
 * jobs expire on time even when no other job ends.
 */
export class Retention<T extends Retained> {
  readonly #bounds: RetentionBounds;
  readonly #remove: (record: T, why: string) => Promise<void>;
  readonly #owners = new Map<string, Owner<T>>();
  #disk = 0;
  #cancelTimer: (() => void) | undefined;
  #closed = false;

  constructor(bounds: RetentionBounds, remove: (record: T, why: string) => Promise<void>) {
    this.#bounds = bounds;
    this.#remove = remove;
  }

  /** Adds finished jobs (in any order), keeping each owner's list in end order. */
  add(records: readonly T[]): void {
    const touched = new Set<Owner<T>>();
    for (const record of records) {
      let owner = this.#owners.get(record.owner);
      if (owner === undefined) {
        owner = { name: record.owner, entries: [], disk: 0, stored: 0 };
        this.#owners.set(record.owner, owner);
      }
      const entry = { record, disk: record.outputDisk, stored: record.storedBytes };
      owner.disk += entry.disk;
      owner.stored += entry.stored;
      this.#disk += entry.disk;
      // A job that just ended almost always goes last; records loaded at start-up are sorted once below.
      const { entries } = owner;
      if (records.length === 1) {
        let i = entries.length;
        while (i > 0 && endOf((entries[i - 1] as Entry<T>).record) > endOf(record)) i--;
        entries.splice(i, 0, entry);
      } else {
        entries.push(entry);
        touched.add(owner);
      }
    }
    for (const owner of touched) owner.entries.sort((a, b) => endOf(a.record) - endOf(b.record));
  }

  /** Forgets a job removed otherwise (deleted by its owner). */
  forget(record: T): void {
    const owner = this.#owners.get(record.owner);
    const i = owner?.entries.findIndex((e) => e.record === record) ?? -1;
    if (owner === undefined || i === -1) return;
    const [entry] = owner.entries.splice(i, 1) as [Entry<T>];
    owner.disk -= entry.disk;
    owner.stored -= entry.stored;
    this.#disk -= entry.disk;
    if (owner.entries.length === 0) this.#owners.delete(owner.name);
  }

  /** Removes every due job (see the class), then waits for the next expiry; resolves once their output is gone. */
  async sweep(now = Date.now()): Promise<void> {
    if (this.#closed) return;
    const removals: Promise<void>[] = [];
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const take = (owner: Owner<T>, why: string): void => {
      const oldest = (owner.entries[0] as Entry<T>).record;
      this.forget(oldest);
      removals.push(this.#remove(oldest, why));
    };
    const { retainMs, outputBudgetBytes, outputBudgetPerUserBytes, maxRecordsPerUser, maxRecordBytesPerUser } = this.#bounds;
    for (const owner of [...this.#owners.values()]) {
      for (let oldest = owner.entries[0]; oldest !== undefined; oldest = owner.entries[0]) {
        const why =
          now - endOf(oldest.record) > retainMs
            ? `it ended more than the retention period (${period(retainMs)}) ago`
            : owner.disk > outputBudgetPerUserBytes
              ? `its owner's finished jobs' output (${String(owner.disk)} bytes on disk) exceeds the per-user budget of ${String(outputBudgetPerUserBytes)} bytes; it is the owner's oldest`
              : owner.entries.length > maxRecordsPerUser
                ? `its owner has more than ${String(maxRecordsPerUser)} finished jobs, the per-user limit; it is the owner's oldest`
                : owner.stored > maxRecordBytesPerUser
                  ? `its owner's finished job records (${String(owner.stored)} bytes) exceed the per-user limit of ${String(maxRecordBytesPerUser)} bytes; it is the owner's oldest`
                  : undefined;
        if (why === undefined) break;
        take(owner, why);
      }
    }
    while (this.#disk > outputBudgetBytes) {
      let largest: Owner<T> | undefined;
      for (const owner of this.#owners.values()) if (largest === undefined || owner.disk > largest.disk) largest = owner;
      if (largest === undefined) break;
      take(largest, `finished jobs' output (${String(this.#disk)} bytes on disk) exceeds the budget of ${String(outputBudgetBytes)} bytes; it is the oldest job of the user with the most output`);
    }
    let next: number | undefined;
    for (const owner of this.#owners.values()) {
      const end = endOf((owner.entries[0] as Entry<T>).record);
      if (next === undefined || end < next) next = end;
    }
    if (next !== undefined) this.#cancelTimer = atTime(next + retainMs + 1, () => void this.sweep());
    await Promise.all(removals);
  }

  /** Stops the expiry timer; nothing is removed any more. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer?.();
  }
}
