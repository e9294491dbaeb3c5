// Every change of every job, numbered, with a bounded window of the latest ones for watchers that reconnect.
import { randomUUID } from "node:crypto";
import type { Job, JobChange, JobChangeKind, WatchPosition } from "../types.ts";

/** Changes kept for watchers that resume, at most. */
export const changeWindow = 10_000;
/** About how many bytes of memory the kept changes may take, at most (see {@link changeBytes}). */
export const changeWindowBytes = 4 * 2 ** 20;

/**
 * About what a kept change costs: its objects, and the text its job's snapshot holds of its own (a kept snapshot
 * shares the rest with the record, see JobRecord.snapshot; long arguments are read back, never held).
 */
export function changeBytes(job: Job): number {
  const args = Object.getOwnPropertyDescriptor(job, "args")?.value as string[] | undefined;
  let chars = job.id.length + job.owner.length + job.program.length + job.cwd.length + (job.failureReason?.length ?? 0);
  for (const arg of args ?? []) chars += arg.length + 16;
  return 384 + 2 * chars;
}

/**
 * The manager's change log: each change gets the next sequence number of this manager's epoch (a random id: the
 * numbers start again with every manager), is kept in a window of the latest ones (at most `window` changes and
 * `windowBytes` bytes, see {@link changeBytes}), and is handed to every listener at once, synchronously, in order.
 */
export class JobChanges {
  readonly epoch = randomUUID();
  #sequence = 0;
  /** The oldest sequence still kept (the latest + 1 when none is). */
  #oldest = 1;
  #bytes = 0;
  readonly #ring: (JobChange | undefined)[];
  readonly #sizes: Uint32Array;
  readonly #windowBytes: number;
  readonly #listeners = new Set<(change: JobChange) => void>();

  constructor(window = changeWindow, windowBytes = changeWindowBytes) {
    this.#ring = new Array<JobChange | undefined>(window);
    this.#sizes = new Uint32Array(window);
    this.#windowBytes = windowBytes;
  }

  /** The sequence of the latest change. */
  get sequence(): number {
    return this.#sequence;
  }

  /** Listeners now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Changes kept now, and about how many bytes they take. */
  get kept(): { changes: number; bytes: number } {
    return { changes: this.#sequence + 1 - this.#oldest, bytes: this.#bytes };
  }

  publish(kind: JobChangeKind, job: Job): void {
    const change: JobChange = { sequence: ++this.#sequence, kind, job };
    const size = changeBytes(job);
    const length = this.#ring.length;
    if (this.#sequence - this.#oldest >= length) this.#drop();
    this.#ring[change.sequence % length] = change;
    this.#sizes[change.sequence % length] = size;
    this.#bytes += size;
    // The latest is kept whatever its size: a watcher that keeps up never needs the window.
    while (this.#bytes > this.#windowBytes && this.#oldest < this.#sequence) this.#drop();
    for (const listener of this.#listeners) listener(change);
  }

  /** Forgets the oldest kept change. */
  #drop(): void {
    const at = this.#oldest++ % this.#ring.length;
    this.#ring[at] = undefined;
    this.#bytes -= this.#sizes[at] as number;
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
      const oldest = this.#oldest;
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
