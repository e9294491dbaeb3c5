// Not an ESM import of node:fs: see slow.ts.
const { writeSync } = process.getBuiltinModule("node:fs");

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `data` to `fd` synchronously, through partial writes and EAGAIN (a descriptor some
 * other process left non-blocking), so output order is exactly the order of calls.
 */
export function writeAll(fd: number, data: string | Buffer): void {
  let buffer = typeof data === "string" ? Buffer.from(data) : data;
  while (buffer.length > 0) {
    try {
      buffer = buffer.subarray(writeSync(fd, buffer));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
