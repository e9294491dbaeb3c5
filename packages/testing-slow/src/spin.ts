/** Keep one CPU busy for `seconds` of wall-clock time (blocking the event loop). */
export function spin(seconds: number): void {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    // Busy on purpose: reading the clock is the work.
  }
}
