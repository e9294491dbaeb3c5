// The last chunk read of each output file of a job, handed to every follower reading the same range.
import { holdChunk, releaseChunk } from "./chunk-buffers.ts";

interface Entry {
  position: number;
  length: number;
  data: Promise<Buffer>;
  /** Set once read. */
  read?: Buffer;
  /** Callers before the read completed: each becomes a holder of the data once it is there. */
  waiting: number;
  /** Whether this is still the file's entry: the cache itself holds the data while it is. */
  cached: boolean;
}

/**
 * One read per chunk for followers in step: output files are append-only, so bytes once there never change, and
 * followers at the same position asking for the same length get the same buffer (read-only). Only the last chunk
 * per file is kept. Each caller is a holder of the data it gets ({@link holdChunk}), counted when it asks, so that
 * the buffer cannot go back to the pool between the read and the caller's turn; the cache holds it too while it is
 * the file's last chunk.
 */
export class SharedChunks {
  readonly #last = new Map<string, Entry>();

  /** The `length` bytes at `position` of the file `name`, read by `read` unless the last chunk is that range. */
  get(name: string, position: number, length: number, read: () => Promise<Buffer>): Promise<Buffer> {
    const last = this.#last.get(name);
    if (last !== undefined && last.position === position && last.length === length) {
      if (last.read === undefined) last.waiting++;
      else holdChunk(last.read);
      return last.data;
    }
    if (last !== undefined) this.#evict(last);
    const entry: Entry = { position, length, data: read(), waiting: 1, cached: true };
    this.#last.set(name, entry);
    // Attached before any caller can await the promise: the holds are counted before any caller's turn.
    entry.data.then(
      (data) => {
        entry.read = data;
        for (; entry.waiting > 0; entry.waiting--) holdChunk(data);
        if (entry.cached) holdChunk(data);
      },
      () => {
        if (this.#last.get(name) === entry) this.#last.delete(name);
        entry.cached = false;
      },
    );
    return entry.data;
  }

  /** Forgets every chunk (the last follower left). */
  clear(): void {
    for (const entry of this.#last.values()) this.#evict(entry);
    this.#last.clear();
  }

  #evict(entry: Entry): void {
    if (!entry.cached) return;
    entry.cached = false;
    if (entry.read !== undefined) releaseChunk(entry.read);
  }
}
