import { BenchError } from "./error.ts";

/** Percentiles and extremes of a set of samples. */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Summarises samples with nearest-rank percentiles; throws when there are none. */
export function summarize(samples: ArrayLike<number>, what: string): Summary {
  if (samples.length === 0) {
    throw new BenchError("measurement", `no samples for ${what}`);
  }
  const sorted = Float64Array.from(samples).sort();
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: rank(0.5),
    p99: rank(0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sum / sorted.length,
  };
}

/** The median of a few repeated measurements. */
export function median(samples: readonly number[], what: string): number {
  return summarize(samples, what).p50;
}

/** Milliseconds since an arbitrary origin, sub-millisecond resolution, monotonic. */
export const now = (): number => performance.now();

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (shared by every process on the host). */
export const epochMs = (): number => performance.timeOrigin + performance.now();
