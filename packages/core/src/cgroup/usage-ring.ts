// A running job's usage samples in bounded memory, merged in pairs as they accumulate.
import type { UsageSample, UsageTimeline } from "../types.ts";

/** Most points a ring holds; once full, neighbours merge in pairs and the ring holds half as many. */
export const ringCapacity = 240;
/** Most points a timeline keeps once the job ended (stored in its record) or is returned while it runs. */
export const timelinePoints = 120;

const initialCapacity = 8;

/**
 * The samples of one job: typed arrays (20 bytes a point), grown by doubling up to {@link ringCapacity}. When full,
 * each pair of neighbouring points becomes one (CPU averaged over the pair's time, memory the higher), so that the
 * timeline always covers the whole run at a resolution that halves as it doubles in length.
 */
export class UsageRing {
  #at = new Float64Array(initialCapacity);
  #cpu = new Float32Array(initialCapacity);
  #memory = new Float64Array(initialCapacity);
  #length = 0;
  /** Samples merged into each point (1, 2, 4...): the newest point merges samples until it has as many. */
  #span = 1;
  #pending = 0;
  /** The sampling interval the points were taken at. */
  readonly intervalMs: number;
  /** The CPU time and time of the last sample, from which the next one's rate is computed. */
  lastCpuUsec = 0;
  lastAtMs: number;

  /** A ring for a job started at `startMs` (its CPU time then: 0), sampled every `intervalMs`. */
  constructor(startMs: number, intervalMs: number) {
    this.lastAtMs = startMs;
    this.intervalMs = intervalMs;
  }

  /** Bytes the ring's arrays hold now. */
  get bytes(): number {
    return this.#at.byteLength + this.#cpu.byteLength + this.#memory.byteLength;
  }

  get length(): number {
    return this.#length;
  }

  /** Adds a sample taken at `atMs`: CPU in CPUs (NaN: unknown), memory in bytes (NaN: unknown). */
  push(atMs: number, cpu: number, memory: number): void {
    if (this.#pending > 0) {
      // Still filling the newest point (after a merge each point covers #span samples).
      const i = this.#length - 1;
      this.#mergeInto(i, atMs, cpu, memory);
      this.#pending = (this.#pending + 1) % this.#span;
      return;
    }
    if (this.#length === this.#at.length) {
      if (this.#length < ringCapacity) this.#grow();
      else this.#halve();
    }
    const i = this.#length++;
    this.#at[i] = atMs;
    this.#cpu[i] = cpu;
    this.#memory[i] = memory;
    this.#pending = this.#span > 1 ? 1 : 0;
  }

  /** The samples as a timeline of at most `maxPoints` points (merged in pairs as often as needed). */
  timeline(maxPoints = timelinePoints): UsageTimeline {
    let points: UsageSample[] = [];
    for (let i = 0; i < this.#length; i++) points.push(sampleOf(this.#at[i] as number, this.#cpu[i] as number, this.#memory[i] as number));
    while (points.length > maxPoints) points = mergePairs(points);
    return { intervalMs: this.intervalMs, samples: points };
  }

  #grow(): void {
    const size = Math.min(this.#at.length * 2, ringCapacity);
    const grow = <T extends Float64Array | Float32Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(size);
      b.set(a);
      return b;
    };
    this.#at = grow(this.#at, Float64Array);
    this.#cpu = grow(this.#cpu, Float32Array);
    this.#memory = grow(this.#memory, Float64Array);
  }

  #halve(): void {
    const half = this.#length >> 1;
    for (let i = 0; i < half; i++) {
      const a = 2 * i;
      this.#at[i] = this.#at[a] as number;
      this.#cpu[i] = this.#cpu[a] as number;
      this.#memory[i] = this.#memory[a] as number;
      this.#mergeInto(i, this.#at[a + 1] as number, this.#cpu[a + 1] as number, this.#memory[a + 1] as number);
    }
    this.#length = half;
    this.#span *= 2;
  }

  // Point i absorbs a later sample: its end time moves on, CPU is weighted by time, memory keeps the higher.
  #mergeInto(i: number, atMs: number, cpu: number, memory: number): void {
    const before = i > 0 ? (this.#at[i - 1] as number) : undefined;
    const at = this.#at[i] as number;
    this.#cpu[i] = weighted(this.#cpu[i] as number, before === undefined ? 1 : at - before, cpu, atMs - at);
    this.#memory[i] = higher(this.#memory[i] as number, memory);
    this.#at[i] = atMs;
  }
}

function weighted(a: number, wa: number, b: number, wb: number): number {
  if (Number.isNaN(a)) return b;
  if (Number.isNaN(b)) return a;
  const total = wa + wb;
  return total > 0 ? (a * wa + b * wb) / total : (a + b) / 2;
}

function higher(a: number, b: number): number {
  return Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b);
}

function sampleOf(atMs: number, cpu: number, memory: number): UsageSample {
  const sample: UsageSample = { atMs };
  // Four decimals: a hundredth of a percent of a CPU is past what sampling can tell (and float32 noise).
  if (!Number.isNaN(cpu)) sample.cpu = Math.round(cpu * 1e4) / 1e4;
  if (!Number.isNaN(memory)) sample.memoryBytes = memory;
  return sample;
}

// Pairs of points of an ended job's timeline merged the same way as in the ring.
function mergePairs(points: UsageSample[]): UsageSample[] {
  const merged: UsageSample[] = [];
  for (let i = 0; i < points.length; i += 2) {
    const a = points[i] as UsageSample;
    const b = points[i + 1];
    if (b === undefined) {
      merged.push(a);
      continue;
    }
    const start = merged.at(-1)?.atMs;
    const cpu = weighted(a.cpu ?? NaN, start === undefined ? 1 : a.atMs - start, b.cpu ?? NaN, b.atMs - a.atMs);
    merged.push(sampleOf(b.atMs, cpu, higher(a.memoryBytes ?? NaN, b.memoryBytes ?? NaN)));
  }
  return merged;
}
