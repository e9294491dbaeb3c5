import { writeAll } from "./write-all.ts";

/**
 * Print "line 1" .. "line N" (odd ones on stdout, even ones on stderr), line k after k-1
 * intervals, then wait one more interval. Times are counted from the start, so they do not drift;
 * a late timer prints the lines that are due at once.
 */
export async function printLines(count: number, interval: number): Promise<void> {
  const start = performance.now();
  for (let k = 1; k <= count + 1; k++) {
    const wait = start + (k - 1) * interval - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (k <= count) writeAll(k % 2 === 1 ? 1 : 2, `line ${k}\n`);
  }
}
