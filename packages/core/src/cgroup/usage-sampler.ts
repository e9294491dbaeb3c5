// One timer that samples every running job's CPU use and memory into its usage ring.
import { closeSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { UsageRing } from "./usage-ring.ts";

// One buffer for every read: cpu.stat is a few hundred bytes, memory.current a line.
const buffer = Buffer.alloc(4096);

/**
 * Samples the jobs it is given every `intervalMs`, all on one timer: per job, one read of cpu.stat (its
 * usage_usec, turned into CPUs used since the last sample) and, with the memory controller, one of memory.current.
 * The reads are synchronous (each an open, a read and a close of a small kernfs file, microseconds): no promise or
 * thread-pool round trip per file, and a tick is over before anything else runs. A job whose cgroup is gone (ended
 * meanwhile) is skipped.
 */
export class UsageSampler {
  readonly intervalMs: number;
  readonly #memory: boolean;
  readonly #jobs = new Map<object, { dir: string; ring: UsageRing }>();
  #timer: NodeJS.Timeout | undefined;

  /** `intervalMs` 0: sampling off (add() still gives each job an empty ring). */
  constructor(intervalMs: number, controllers: readonly string[]) {
    this.intervalMs = intervalMs;
    this.#memory = controllers.includes("memory");
  }

  /**
   * Starts sampling the running job `job` (any key) whose cgroup is `dir`, started at `startMs`: its first sample is
   * its average CPU use since then. Returns its ring.
   */
  add(job: object, dir: string, startMs: number): UsageRing {
    const ring = new UsageRing(startMs, this.intervalMs);
    this.#jobs.set(job, { dir, ring });
    if (this.#timer === undefined && this.intervalMs > 0) {
      this.#timer = setInterval(() => this.sample(), this.intervalMs);
      this.#timer.unref();
    }
    return ring;
  }

  /** Stops sampling a job (it ended, or the manager let go of it); its ring stays with whoever holds it. */
  remove(job: object): void {
    this.#jobs.delete(job);
    if (this.#jobs.size === 0) this.close();
  }

  /** Takes one sample of every job now (the timer's tick). */
  sample(now = Date.now()): void {
    for (const { dir, ring } of this.#jobs.values()) {
      const cpuUsec = readCpuUsage(dir);
      if (cpuUsec === undefined) continue;
      const memory = this.#memory ? readNumber(join(dir, "memory.current")) : undefined;
      const elapsedUsec = (now - ring.lastAtMs) * 1000;
      const cpu = elapsedUsec > 0 ? Math.max(0, cpuUsec - ring.lastCpuUsec) / elapsedUsec : NaN;
      ring.push(now, cpu, memory ?? NaN);
      ring.lastAtMs = now;
      ring.lastCpuUsec = cpuUsec;
    }
  }

  /** How many jobs are sampled. */
  get size(): number {
    return this.#jobs.size;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

function readSmall(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    return buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, 0));
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

// cpu.stat's first line is "usage_usec N".
function readCpuUsage(dir: string): number | undefined {
  const text = readSmall(join(dir, "cpu.stat"));
  const match = text === undefined ? null : /^usage_usec (\d+)/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

function readNumber(path: string): number | undefined {
  const text = readSmall(path);
  const n = text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}
