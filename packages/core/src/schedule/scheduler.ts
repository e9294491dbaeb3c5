// The queue, the running load and the capacities together: what the manager asks before a start and after an end.
import { JobError } from "../job-error.ts";
import type { Limits, QueueOptions } from "../types.ts";
import { blocked, type Capacities, formatBytes, nextAdmission, queueOrder, type QueueEntry } from "./admission.ts";
import { JobQueue } from "./job-queue.ts";
import { RunningLoad } from "./running-load.ts";

/** Bounds of a priority. */
export const MAX_PRIORITY = 1000;

/** Settings of {@link QueueOptions} after defaults, checked. */
export interface QueueSettings {
  caps: Capacities;
  maxQueuedPerUser: { value: number; name: string };
  maxQueued: { value: number; name: string };
}

/** The queue settings `options` amount to on a host with `cpus` and `memoryBytes`; JobError "invalid_argument" for a bad one. */
export function checkQueueOptions(options: QueueOptions | undefined, host: { cpus: number; memoryBytes: number }): QueueSettings {
  const o = options ?? {};
  const names = o.names ?? {};
  const whole = (what: keyof QueueOptions, value: number | undefined, fallback: number): number => {
    const n = value ?? fallback;
    if (!(n === Infinity || (Number.isSafeInteger(n) && n > 0))) throw new JobError("invalid_argument", `queue.${what} must be a whole number above 0`);
    return n;
  };
  const cpus = o.cpuCapacity ?? host.cpus;
  if (!(Number.isFinite(cpus) && cpus > 0)) throw new JobError("invalid_argument", "queue.cpuCapacity must be a number above 0");
  const starvationMs = o.starvationMs ?? 5 * 60 * 1000;
  if (!(Number.isFinite(starvationMs) && starvationMs >= 0)) throw new JobError("invalid_argument", "queue.starvationMs must be a number >= 0");
  return {
    caps: {
      maxRunning: { value: whole("maxRunning", o.maxRunning, Infinity), name: names.maxRunning ?? "maxRunning" },
      memoryBytes: { value: whole("memoryCapacityBytes", o.memoryCapacityBytes, host.memoryBytes), name: names.memoryCapacityBytes ?? "memoryCapacityBytes" },
      cpus: { value: cpus, name: names.cpuCapacity ?? "cpuCapacity" },
      starvationMs,
    },
    maxQueuedPerUser: { value: whole("maxQueuedPerUser", o.maxQueuedPerUser, 10_000), name: names.maxQueuedPerUser ?? "maxQueuedPerUser" },
    maxQueued: { value: whole("maxQueued", o.maxQueued, 100_000), name: names.maxQueued ?? "maxQueued" },
  };
}

/** What a job reserves while it runs: its memory.max and its CPU quota; 0 for what it does not declare. */
export function demandOf(limits: Limits): { memoryBytes: number; cpus: number } {
  return { memoryBytes: limits.memoryMaxBytes ?? 0, cpus: limits.cpu ?? 0 };
}

/**
 * Decides starts: whether a new job may start at once or waits, which queued job starts next (see
 * {@link nextAdmission}), and what a queued one waits for. Holds the queue and the running load; the manager tells
 * it of every admission, cancel and end.
 */
export class Scheduler {
  readonly settings: QueueSettings;
  readonly queue = new JobQueue();
  readonly load = new RunningLoad();

  constructor(settings: QueueSettings) {
    this.settings = settings;
  }

  /**
   * JobError "failed_precondition" when a job's limits (as asked for, not validated yet) are more than a capacity: it
   * could never start. Values the host itself could not give (above its CPUs or memory, not numbers) are left to
   * validation, which refuses them as invalid.
   */
  checkCapacity(limits: Partial<Limits> | undefined, host: { cpus: number; memoryBytes: number }): void {
    const { memoryBytes, cpus } = this.settings.caps;
    const within = (value: unknown, most: number): number => (typeof value === "number" && value > 0 && value <= most ? value : 0);
    const demand = { memoryBytes: within(limits?.memoryMaxBytes, host.memoryBytes), cpus: within(limits?.cpu, host.cpus) };
    if (demand.memoryBytes > memoryBytes.value) {
      throw new JobError("failed_precondition", `limits.memoryMaxBytes ${formatBytes(demand.memoryBytes)} is more than the host's memory capacity of ${formatBytes(memoryBytes.value)} (${memoryBytes.name}): the job could never start`);
    }
    if (demand.cpus > cpus.value) {
      throw new JobError("failed_precondition", `limits.cpu ${String(demand.cpus)} is more than the host's CPU capacity of ${String(cpus.value)} (${cpus.name}): the job could never start`);
    }
  }

  /**
   * Whether a new job (not queued) may start now: the policy would admit it next were it queued now, its owner's
   * earlier queued jobs and other users' waiting turns considered.
   */
  admitsNow(entry: QueueEntry, now: number): boolean {
    const heads = this.queue.heads().map((head) => (head.owner === entry.owner && queueOrder(entry, head) < 0 ? entry : head));
    if (!heads.some((head) => head.owner === entry.owner)) heads.push(entry);
    return nextAdmission(heads, this.load, this.settings.caps, now) === entry;
  }

  /** Whether a slot is free for `owner` (under `maxRunning`) and on the host, with none of the owner's jobs queued. */
  hasRoom(owner: string, maxRunning: number): boolean {
    return this.load.runningOf(owner) < maxRunning && this.load.total < this.settings.caps.maxRunning.value && this.queue.sizeOf(owner) === 0;
  }

  /** JobError "resource_exhausted" for a job that may not start now and must not wait, naming what is full. */
  refusal(entry: QueueEntry): JobError {
    const why = blocked(entry, this.load, this.settings.caps);
    if (why?.by === "slot") {
      const own = this.load.runningOf(entry.owner);
      return new JobError(
        "resource_exhausted",
        `${entry.owner} already has ${String(own)} running jobs, the limit of ${String(entry.maxRunning)} running jobs per identity (${entry.maxRunningName}): stop one or wait for one to end`,
      );
    }
    const reason = why?.reason ?? `queue: ${String(this.queue.size)} job(s) wait for their turn before it`;
    return new JobError("resource_exhausted", `the job cannot start now (${reason}) and its request asks not to queue`);
  }

  /** JobError "resource_exhausted" when the queue (or `owner`'s part of it) is full, counting the `held` jobs too. */
  checkRoom(owner: string, held: { size: number; sizeOf(owner: string): number }): void {
    const { maxQueuedPerUser, maxQueued } = this.settings;
    const own = this.queue.sizeOf(owner) + held.sizeOf(owner);
    if (own >= maxQueuedPerUser.value) {
      throw new JobError("resource_exhausted", `${owner} already has ${String(own)} queued jobs, the limit per identity (${maxQueuedPerUser.name}): wait for some to start or stop some`);
    }
    const all = this.queue.size + held.size;
    if (all >= maxQueued.value) {
      throw new JobError("resource_exhausted", `the queue holds ${String(all)} jobs, its limit (${maxQueued.name}): wait for some to start`);
    }
  }

  /** The queued job to admit next, taken out of the queue and counted as running; undefined when none may start. */
  admitNext(now: number): { entry: QueueEntry; release: () => void } | undefined {
    const entry = nextAdmission(this.queue.heads(), this.load, this.settings.caps, now);
    if (entry === undefined) return undefined;
    this.queue.remove(entry.id);
    return { entry, release: this.load.hold(entry) };
  }

  /** Where a queued job is and what it waits for; undefined when `id` is not queued. */
  status(id: string): { position: number; reason: string } | undefined {
    const entry = this.queue.entry(id);
    if (entry === undefined) return undefined;
    const position = this.queue.position(id);
    const why = blocked(entry, this.load, this.settings.caps);
    if (why !== undefined) return { position, reason: why.reason };
    if (position > 1) return { position, reason: `turn: after ${String(position - 1)} earlier job(s) of ${entry.owner}` };
    return { position, reason: "turn: next to start" };
  }
}
