// Every change of every job, numbered, with a bounded window of the latest ones for watchers that reconnect.
import { randomUUID } from "node:crypto";
import type { Job, JobChange, JobChangeKind, WatchPosition } from "../types.ts";

/** Changes kept for watchers that resume. */
export const changeWindow = 10_000;

/**
 * The manager's change log: each change gets the next sequence number of this manager's epoch (a random id: the
 * numbers start again with every manager), is kept in a ring of the last {@link changeWindow}, and is handed to every
 * listener at once, synchronously, in order.
 */
export class JobChanges {
  readonly epoch = randomUUID();
  #sequence = 0;
  readonly #ring: (JobChange | undefined)[];
  readonly #listeners = new Set<(change: JobChange) => void>();

  constructor(window = changeWindow) {
    this.#ring = new Array<JobChange | undefined>(window);
  }

  /** The sequence of the latest change. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Listeners now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  publish(kind: JobChangeKind, job: Job): void {
    const change: JobChange = { sequence: ++this.#sequence, kind, job };
    this.#ring[change.sequence % this.#ring.length] = change;
    for (const listener of this.#listeners) listener(change);
  }

  /**
   * Listens from now on, after handing over the changes since `from` (the epoch and last sequence a watcher saw):
   * all of them when they are still in the window, none (and resync) when they are not or `from` is of another epoch.
   * Without `from`, starts at the latest change. The returned function stops listening.
   */
  subscribe(from: { epoch: string; sequence: number } | undefined, listener: (change: JobChange) => void): { position: WatchPosition; missed: JobChange[]; stop: () => void } {
    const latest = this.#sequence;
    let position: WatchPosition = { epoch: this.epoch, sequence: latest, resync: false };
    const missed: JobChange[] = [];
    if (from !== undefined) {
      const oldest = Math.max(1, latest - this.#ring.length + 1);
      if (from.epoch !== this.epoch) position = { ...position, resync: true, reason: "the server restarted since (another epoch)" };
      else if (from.sequence > latest) position = { ...position, resync: true, reason: `sequence ${String(from.sequence)} was never given` };
      else if (from.sequence + 1 < oldest) position = { ...position, resync: true, reason: `changes after sequence ${String(from.sequence)} are no longer kept` };
      else {
        position = { ...position, sequence: from.sequence };
        for (let s = from.sequence + 1; s <= latest; s++) missed.push(this.#ring[s % this.#ring.length] as JobChange);
      }
    }
    this.#listeners.add(listener);
    return { position, missed, stop: () => this.#listeners.delete(listener) };
  }
}
