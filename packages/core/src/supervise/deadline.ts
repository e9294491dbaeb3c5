// A timer for a moment any distance ahead: setTimeout alone overflows past 24.8 days.
const longestDelayMs = 2 ** 31 - 1;

/** Calls `fn` once at `at` (milliseconds since the epoch; at once if past) unless the returned function cancels it. */
export function atTime(at: number, fn: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const delay = at - Date.now();
    timer = setTimeout(delay > longestDelayMs ? arm : fn, Math.min(Math.max(delay, 0), longestDelayMs));
    // The job's own process (or its watch) keeps the event loop alive, not its deadline.
    timer.unref();
  };
  arm();
  return () => clearTimeout(timer);
}
