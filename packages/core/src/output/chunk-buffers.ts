// The buffers output chunks are read into: large ones come from a small pool and go back to it once every holder
// released them, so that streaming a big output allocates (and garbage-collects) almost nothing per chunk.
import type { FileHandle } from "node:fs/promises";

/**
 * The largest chunk a read yields: a reader far behind the end gets chunks of this size (few messages, well under
 * gRPC's 4 MiB default message limit), one at the live edge gets what is new. Memory per reader is O(this).
 */
export const maxChunkBytes = 1024 * 1024;

/** Reads of at least this many bytes go into a pooled buffer of maxChunkBytes; shorter ones into a fresh one of their size. */
const pooledMinBytes = 128 * 1024;
/** Free buffers kept for reuse: at most this many times maxChunkBytes idle. */
const keptFree = 8;

/** A pooled buffer and how many hold the chunk read into it. */
interface Lease {
  buffer: Buffer;
  holders: number;
}

const leases = new WeakMap<Uint8Array, Lease>();
const free: Buffer[] = [];

/**
 * `length` bytes at `position` of `file`. A large read lands in a pooled buffer with no holder yet: whoever hands it
 * on holds it ({@link holdChunk}) first; data nobody holds, or whose holders never all release it, is simply
 * garbage-collected.
 */
export async function readChunk(file: FileHandle, position: number, length: number): Promise<Buffer> {
  if (length < pooledMinBytes) {
    const data = Buffer.allocUnsafe(length);
    const { bytesRead } = await file.read(data, 0, length, position);
    return bytesRead === length ? data : data.subarray(0, bytesRead);
  }
  const buffer = free.pop() ?? Buffer.allocUnsafe(maxChunkBytes);
  let bytesRead: number;
  try {
    ({ bytesRead } = await file.read(buffer, 0, length, position));
  } catch (err) {
    free.push(buffer); // nobody saw it
    throw err;
  }
  const data = buffer.subarray(0, bytesRead);
  leases.set(data, { buffer, holders: 0 });
  return data;
}

/** Counts one more holder of a chunk's data (a no-op for data not in a pooled buffer). */
export function holdChunk(data: Uint8Array): void {
  const lease = leases.get(data);
  if (lease !== undefined) lease.holders++;
}

/**
 * Drops one holder of a chunk's data; after the last one its buffer may hold other bytes at any time (a no-op for
 * data not in a pooled buffer, or already released by all).
 */
export function releaseChunk(data: Uint8Array): void {
  const lease = leases.get(data);
  if (lease === undefined || lease.holders === 0 || --lease.holders > 0) return;
  leases.delete(data);
  if (free.length < keptFree) free.push(lease.buffer);
}
