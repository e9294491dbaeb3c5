const mib = 1024 * 1024;

/**
 * Allocate `size` MiB outside the V8 heap and write to every page, so the memory is resident and
 * counts against memory.max. Returns the chunks: keep them referenced to keep the memory.
 */
export function allocate(size: number): Buffer[] {
  // allocUnsafeSlow does not zero: fill() is what makes the pages resident.
  return Array.from({ length: size }, () => Buffer.allocUnsafeSlow(mib).fill(0xa5));
}
