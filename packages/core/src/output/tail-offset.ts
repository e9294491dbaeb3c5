// Where the last N lines of a file begin, found by reading backwards from the end in blocks.
import type { FileHandle } from "node:fs/promises";

const blockSize = 64 * 1024;
const newline = 0x0a;

/**
 * The byte offset at which the last `lines` lines of the first `size` bytes of `file` start; a final
 * newline ends the last line rather than starting an empty one. Reads only as many blocks from the end as
 * those lines span.
 */
export async function tailOffset(file: FileHandle, size: number, lines: number): Promise<number> {
  if (lines <= 0) return size;
  let remaining = lines;
  const block = Buffer.allocUnsafe(blockSize);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - blockSize);
    const { bytesRead } = await file.read(block, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (block[i] !== newline || start + i === size - 1) continue;
      if (--remaining === 0) return start + i + 1;
    }
    end = start;
  }
  return 0;
}
