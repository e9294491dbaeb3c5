// Retrying store writes that failed (a full disk, a read-only remount): the latest write of each job wins.
import type { LogEvent } from "../types.ts";

const firstDelayMs = 250;
const maxDelayMs = 10_000;

/**
 * Runs store writes; one that throws is logged and retried with a growing delay until it succeeds. Writes are keyed
 * (by job): a newer write of the same key replaces a pending one, since each write carries the whole row as it is
 * then. A timer exists only while a write is pending: an idle store costs nothing.
 */
export class WriteRetry {
  readonly #log: (event: LogEvent) => void;
  readonly #what: string;
  readonly #pending = new Map<string, { write: () => void; attempts: number }>();
  #timer: NodeJS.Timeout | undefined;
  #delay = firstDelayMs;

  /** `what` names the store in log lines, e.g. its path. */
  constructor(what: string, log: (event: LogEvent) => void) {
    this.#what = what;
    this.#log = log;
  }

  /** Writes pending or failed so far. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Runs `write` for `key` now (after a pending one of the same key is dropped); on failure keeps it for a retry. */
  run(key: string, write: () => void): void {
    const earlier = this.#pending.get(key);
    this.#pending.delete(key);
    this.#attempt(key, write, earlier?.attempts ?? 0);
  }

  /** Drops a pending write of `key` (its job is gone). */
  forget(key: string): void {
    this.#pending.delete(key);
  }

  /** Tries every pending write once more, now; returns how many still fail. Stops retrying. */
  flush(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [key, { write, attempts }] of [...this.#pending]) {
      this.#pending.delete(key);
      this.#attempt(key, write, attempts, false);
    }
    return this.#pending.size;
  }

  #attempt(key: string, write: () => void, attempts: number, schedule = true): void {
    try {
      write();
    } catch (error) {
      if (attempts === 0) {
        this.#log({ level: "error", message: `cannot write a job record to ${this.#what}; retrying until it succeeds`, jobId: key, error });
      }
      this.#pending.set(key, { write, attempts: attempts + 1 });
      if (schedule) this.#schedule();
      return;
    }
    if (attempts > 0) this.#log({ level: "info", message: `job record written to ${this.#what} after ${String(attempts + 1)} attempts`, jobId: key });
    if (this.#pending.size === 0) this.#delay = firstDelayMs;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const due = [...this.#pending];
      this.#pending.clear();
      for (const [key, { write, attempts }] of due) this.#attempt(key, write, attempts, false);
      if (this.#pending.size > 0) {
        this.#delay = Math.min(this.#delay * 2, maxDelayMs);
        this.#schedule();
      } else {
        this.#delay = firstDelayMs;
      }
    }, this.#delay);
    this.#timer.unref();
  }
}
