// Which finished jobs to remove: those past the retention period, and the oldest while their output is over budget.
import { atTime } from "./deadline.ts";
import type { JobRecord } from "./job-record.ts";

const outputBytes = (record: JobRecord): number => record.output.stdout + record.output.stderr;

const units: [string, number][] = [["d", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000]];

/** A period for a log line: "7d", "36h", "1500 ms". */
function period(ms: number): string {
  const [unit, size] = units.find(([, size]) => ms >= size && ms % size === 0) ?? ["ms", 1];
  return `${String(ms / size)}${unit === "ms" ? " ms" : unit}`;
}
const endOf = (record: JobRecord): number => record.endedAt?.getTime() ?? 0;

/**
 * Keeps the finished jobs in the order they ended, with their output's total size, so that each check looks at the
 * oldest ones only. A job is due when it ended more than `retainMs` ago, or when it is the oldest and the finished
 * jobs' output exceeds `budgetBytes`; `remove` is called for each due job (the caller forgets its record and output
 * and logs). One timer waits for the oldest job's expiry, so jobs expire on time even when no other job ends.
 */
export class Retention {
  readonly #retainMs: number;
  readonly #budgetBytes: number;
  readonly #remove: (record: JobRecord, why: string) => Promise<void>;
  #ended: JobRecord[] = [];
  #bytes = 0;
  #cancelTimer: (() => void) | undefined;
  #closed = false;

  constructor(retainMs: number, budgetBytes: number, remove: (record: JobRecord, why: string) => Promise<void>) {
    this.#retainMs = retainMs;
    this.#budgetBytes = budgetBytes;
    this.#remove = remove;
  }

  /** Adds finished jobs (in any order), keeping the list in end order. */
  add(records: readonly JobRecord[]): void {
    for (const record of records) this.#bytes += outputBytes(record);
    const [only] = records;
    if (records.length === 1 && only !== undefined) {
      // A job that just ended: it almost always goes last.
      let i = this.#ended.length;
      while (i > 0 && endOf(this.#ended[i - 1] as JobRecord) > endOf(only)) i--;
      this.#ended.splice(i, 0, only);
    } else {
      // The records loaded at start-up, in creation order: nearly in end order, which the sort makes quick work of.
      this.#ended = this.#ended.concat(records).sort((a, b) => endOf(a) - endOf(b));
    }
  }

  /** Forgets a job removed otherwise (deleted by its owner). */
  forget(record: JobRecord): void {
    const i = this.#ended.indexOf(record);
    if (i === -1) return;
    this.#ended.splice(i, 1);
    this.#bytes -= outputBytes(record);
  }

  /** Removes every due job, oldest first, then waits for the next expiry; resolves once their output is gone. */
  async sweep(now = Date.now()): Promise<void> {
    if (this.#closed) return;
    const removals: Promise<void>[] = [];
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    for (let oldest = this.#ended[0]; oldest !== undefined; oldest = this.#ended[0]) {
      const age = now - endOf(oldest);
      const why =
        age > this.#retainMs
          ? `it ended more than the retention period (${period(this.#retainMs)}) ago`
          : this.#bytes > this.#budgetBytes
            ? `finished jobs' output (${String(this.#bytes)} bytes) exceeds the budget of ${String(this.#budgetBytes)} bytes; it is the oldest`
            : undefined;
      if (why === undefined) break;
      this.forget(oldest);
      removals.push(this.#remove(oldest, why));
    }
    const next = this.#ended[0];
    if (next !== undefined) this.#cancelTimer = atTime(endOf(next) + this.#retainMs + 1, () => void this.sweep());
    await Promise.all(removals);
  }

  /** Stops the expiry timer; nothing is removed any more. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer?.();
  }
}
