const mib = 1024 * 1024;

// Held until slow exits: nothing else refers to the memory once it is touched.
const held: Buffer[] = [];

/**
 * Allocate `size` MiB outside the V8 heap and write to every page, so the memory is resident and
 * counts against memory.max, and keep it until slow exits. Returns the MiB now held.
 */
export function allocate(size: number): number {
  for (let i = 0; i < size; i++) {
    // allocUnsafeSlow does not zero: fill() is what makes the pages resident.
    held.push(Buffer.allocUnsafeSlow(mib).fill(0xa5));
  }
  return held.length;
}
