/** The 64 bytes `slow --bytes K` repeats: byte i of the output is `bytesPattern[i % 64]`. */
export const bytesPattern = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+\n";

/** `size` bytes of the pattern from its start (a multiple of 64 lets such chunks follow one another). */
export function patternChunk(size: number): Buffer {
  return Buffer.alloc(size, bytesPattern, "latin1");
}
