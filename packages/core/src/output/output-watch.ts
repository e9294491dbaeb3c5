// One change notifier per job, shared by all its followers.
import { type FSWatcher, watch } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { type OutputSizes, outputSizesNow } from "./output-files.ts";
import { SharedChunks } from "./shared-chunks.ts";

const pollMs = 25;
// After a change the watch closes for this long: see #onChange.
const quietMs = 1;

// Blocks a filesystem may allocate ahead of a growing file (XFS's speculative preallocation is about the file's size)
// or round up to: allocated bytes count against the limit only beyond the limit plus this much.
const allocationSlack = (maxBytes: number): number => Math.max(maxBytes, 1024 * 1024);

/**
 * Whether output of `sizes` exceeds a limit of `maxBytes`: more bytes in the files (however they got there: written,
 * or a file extended by ftruncate, sparse), or more blocks allocated (fallocate) than the limit and
 * {@link allocationSlack} allow.
 */
export function overLimit(sizes: OutputSizes, maxBytes: number): boolean {
  return sizes.stdout + sizes.stderr > maxBytes || sizes.disk > maxBytes + allocationSlack(maxBytes);
}

/** The output limit of a running job, checked on changes; see {@link OutputWatch.limit}. */
interface Limit {
  maxBytes: number;
  exceeded: () => void;
}

/**
 * Wakes the followers of one job when its output directory changes or the job ends, and enforces the job's
 * output limit. The inotify watch on the directory exists while someone follows or a limit is set (one watch for
 * any number of followers and the limit), and a change wakes every waiting follower from one set, so a thousand
 * followers cost a thousand small closures. They also read through one shared handle per output file: a follower
 * holds no file descriptor of its own.
 */
export class OutputWatch {
  readonly #dir: string;
  #generation = 0;
  /** Followers waiting for the next change, each called once at it. */
  #waiters = new Set<() => void>();
  #followers = 0;
  #watcher: FSWatcher | undefined;
  /** Stands in for the watch when inotify cannot be had (e.g. fs.inotify.max_user_watches reached). */
  #poller: NodeJS.Timeout | undefined;
  /** Set while the watch is closed for a moment after a change; reopens it. */
  #resume: NodeJS.Timeout | undefined;
  #ended = false;
  #limit: Limit | undefined;
  /** File sizes measured during generation #sizesGeneration, shared by every follower. */
  #sizes = new Map<string, Promise<number>>();
  #sizesGeneration = -1;
  /** The last chunk read of each file, handed to every follower reading the same range. */
  #chunks = new SharedChunks();
  /** Read handles of the output files, shared by every follower, open while someone follows. */
  #files = new Map<string, Promise<FileHandle>>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Counts changes; a follower notes it before reading so a change during the read is not missed. */
  get generation(): number {
    return this.#generation;
  }

  /** Whether the job ended: no byte will be added after this is true. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Followers waiting for a change (for tests and diagnostics). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Whether the inotify watch is open (for tests and diagnostics). */
  get watching(): boolean {
    return this.#watcher !== undefined || this.#poller !== undefined || this.#resume !== undefined;
  }

  /** Wakes everyone waiting. */
  notify(): void {
    this.#generation++;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /**
   * Calls `exceeded` once, as soon as a change leaves the output files holding more than `maxBytes` together, or
   * taking more disk than that (see {@link overLimit}).
   * The watch then stays open until end(), followed or not. Nothing runs on the job's write path: each change
   * the watch reports is measured (two synchronous stat calls, see #onChange); between changes nothing runs.
   */
  limit(maxBytes: number, exceeded: () => void): void {
    if (this.#ended) return;
    let fired = false;
    this.#limit = {
      maxBytes,
      exceeded: () => {
        if (fired) return;
        fired = true;
        exceeded();
      },
    };
    if (!this.watching) this.#openWatcher();
    this.#measure(); // output written before the watch counts
  }

  /** The output's sizes now, checked against the limit. */
  #measure(): OutputSizes {
    const sizes = outputSizesNow(this.#dir);
    if (this.#limit !== undefined && overLimit(sizes, this.#limit.maxBytes)) this.#limit.exceeded();
    return sizes;
  }

  /** Records the end of the job, wakes followers and drops the watch: nothing writes any more. */
  end(): void {
    this.#ended = true;
    this.#limit = undefined;
    this.#closeWatcher();
    this.notify();
  }

  /**
   * The size of the file `name` as measured during the current generation, one measurement shared by all
   * followers: one that noted this generation and reads up to it misses nothing, since any later write
   * changes the generation. Only for followers (the watch is open while they are there).
   */
  size(name: string, measure: () => Promise<number>): Promise<number> {
    if (this.#sizesGeneration !== this.#generation) {
      this.#sizes.clear();
      this.#sizesGeneration = this.#generation;
    }
    let size = this.#sizes.get(name);
    if (size === undefined) {
      size = measure();
      this.#sizes.set(name, size);
    }
    return size;
  }

  /**
   * The `length` bytes at `position` of the file `name`, read once by `read` for all followers asking for
   * the same range (followers in step read each chunk once between them, not once each); see {@link SharedChunks}.
   * The caller holds the data it gets (chunk-buffers.ts).
   */
  chunk(name: string, position: number, length: number, read: () => Promise<Buffer>): Promise<Buffer> {
    return this.#chunks.get(name, position, length, read);
  }

  /**
   * The read handle of the output file `name` shared by all followers, opened by `openFile` on first use and closed
   * when the last follower leaves (a read still under way finishes first: FileHandle.close waits for it). Only for
   * followers.
   */
  file(name: string, openFile: () => Promise<FileHandle>): Promise<FileHandle> {
    let file = this.#files.get(name);
    if (file === undefined) {
      const opening = openFile();
      file = opening;
      this.#files.set(name, opening);
      opening.catch(() => {
        if (this.#files.get(name) === opening) this.#files.delete(name);
      });
    }
    return file;
  }

  /**
   * Registers a follower; the first one opens the watch. Returns the release function (idempotent), whose promise
   * settles once the shared handles the last follower leaves behind are closed.
   */
  follow(): () => Promise<void> {
    if (this.#followers++ === 0 && !this.#ended && !this.watching) this.#openWatcher();
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.#followers > 0) return;
      if (this.#limit === undefined) this.#closeWatcher();
      this.#chunks.clear();
      const files = [...this.#files.values()];
      this.#files.clear();
      await Promise.all(files.map((file) => file.then((f) => f.close()).catch(() => undefined)));
    };
  }

  /**
   * Calls `wake` once, at the first change after `generation` (at once if there was one). Returns the function that
   * withdraws it: a follower that leaves while waiting leaves nothing behind, however long the job stays quiet.
   */
  onChange(generation: number, wake: () => void): () => void {
    if (generation !== this.#generation) {
      wake();
      return () => undefined;
    }
    const waiters = this.#waiters;
    waiters.add(wake);
    return () => waiters.delete(wake);
  }

  #openWatcher(): void {
    // Sizes measured while nobody watched may be stale: a new generation drops them.
    this.notify();
    this.#watch();
  }

  #watch(): void {
    try {
      this.#watcher = watch(this.#dir, { persistent: false }, () => this.#onChange());
    } catch {
      this.#poll();
      return;
    }
    // A watch error (e.g. the directory removed) must not crash the server: fall back to polling.
    this.#watcher.on("error", () => {
      this.#closeWatcher();
      if ((this.#followers > 0 || this.#limit !== undefined) && !this.#ended) this.#poll();
    });
  }

  /**
   * A change reported by the watch: wake the followers, measure, then close the watch for {@link quietMs}. A job
   * writing as fast as it can would otherwise wake the server on every write() (tens of thousands of times a
   * second, most of a CPU); this way it costs at most one wake-up per quietMs, and a job that writes now and then
   * one per write. When the watch reopens, the output is measured again and followers are woken if it grew
   * meanwhile: no write goes unnoticed, and a follower waits at most quietMs longer.
   */
  #onChange(): void {
    this.notify();
    const before = this.#measure();
    if (this.#watcher === undefined || this.#ended) return;
    this.#watcher.close();
    this.#watcher = undefined;
    this.#resume = setTimeout(() => {
      this.#resume = undefined;
      if (this.#ended) return;
      this.#watch(); // first, so that a write after the measurement below wakes it
      const now = this.#measure();
      if (now.stdout !== before.stdout || now.stderr !== before.stderr) this.notify();
    }, quietMs);
    this.#resume.unref();
  }

  #poll(): void {
    this.#poller = setInterval(() => {
      this.notify();
      this.#measure();
    }, pollMs);
    this.#poller.unref();
  }

  #closeWatcher(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#poller);
    this.#poller = undefined;
    clearTimeout(this.#resume);
    this.#resume = undefined;
  }
}
