import { patternChunk } from "./pattern.ts";
import { writeAll } from "./write-all.ts";

const chunkSize = 1024 * 1024;

/** Write exactly `count` bytes of the 64-byte pattern to stdout, in 1 MiB writes. */
export function writeBytes(count: number): void {
  const chunk = patternChunk(Math.min(chunkSize, count));
  for (let left = count; left > 0; left -= chunk.length) {
    writeAll(1, left >= chunk.length ? chunk : chunk.subarray(0, left));
  }
}
