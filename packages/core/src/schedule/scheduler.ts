// The queue, the running load and the capacities together: what the manager asks before a start and after an end.
import { JobError } from "../job-error.ts";
import type { Limits, QueueOptions } from "../types.ts";
import { blocked, type Capacities, formatBytes, nextAdmission, queueOrder, type QueueEntry } from "./admission.ts";
import { type Dependency, type DependencyJob, evaluate } from "./dependencies.ts";
import { type Held, Holds } from "./holds.ts";
import { JobQueue } from "./job-queue.ts";
import { RunningLoad } from "./running-load.ts";

/** Bounds of a priority. */
export const MAX_PRIORITY = 1000;
/** The largest fair-share weight ({@link QueueOptions.weights}). */
export const MAX_WEIGHT = 1000;

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
  const weights = new Map(Object.entries(o.weights ?? {}));
  for (const [owner, weight] of weights) {
    if (!(Number.isSafeInteger(weight) && weight >= 1 && weight <= MAX_WEIGHT)) {
      throw new JobError("invalid_argument", `${names.weights ?? "queue.weights"}: the weight of ${JSON.stringify(owner)} must be a whole number from 1 to ${String(MAX_WEIGHT)}`);
    }
  }
  return {
    caps: {
      maxRunning: { value: whole("maxRunning", o.maxRunning, Infinity), name: names.maxRunning ?? "maxRunning" },
      memoryBytes: { value: whole("memoryCapacityBytes", o.memoryCapacityBytes, host.memoryBytes), name: names.memoryCapacityBytes ?? "memoryCapacityBytes" },
      cpus: { value: cpus, name: names.cpuCapacity ?? "cpuCapacity" },
      starvationMs,
      ...(weights.size === 0 ? {} : { weights }),
    },
    maxQueuedPerUser: { value: whole("maxQueuedPerUser", o.maxQueuedPerUser, 10_000), name: names.maxQueuedPerUser ?? "maxQueuedPerUser" },
    maxQueued: { value: whole("maxQueued", o.maxQueued, 100_000), name: names.maxQueued ?? "maxQueued" },
  };
}

/** What a job reserves while it runs: its memory.max and its CPU quota; 0 for what it does not declare. */
export function demandOf(limits: Limits): { memoryBytes: number; cpus: number } {
  return { memoryBytes: limits.memoryMaxBytes ?? 0, cpus: limits.cpu ?? 0 };
}

/** Held jobs taken out of the holds by a re-evaluation: released to the queue, or failed (with why). */
export interface Unheld {
  released: Held[];
  failed: { held: Held; reason: string }[];
}

/**
 * Decides starts: whether a new job may start at once or waits, which queued job starts next (see
 * {@link nextAdmission}), and what a queued one waits for. Holds the queue, the jobs held by a dependency or a start
 * time (see {@link Holds}) and the running load; the manager tells it of every admission, cancel and end, and acts on
 * what it answers (it touches no record).
 */
export class Scheduler {
  readonly settings: QueueSettings;
  readonly queue = new JobQueue();
  readonly holds = new Holds();
  readonly load = new RunningLoad();
  readonly #lookup: (id: string) => DependencyJob | undefined;

  /** `lookup` finds the jobs dependencies name (undefined: gone). */
  constructor(settings: QueueSettings, lookup: (id: string) => DependencyJob | undefined) {
    this.settings = settings;
    this.#lookup = lookup;
  }

  /** Why a job must wait besides capacity (a dependency open or failed, a start time ahead); undefined if nothing. */
  waitReason(after: readonly Dependency[], notBefore: number, now: number): string | undefined {
    const evaluation = evaluate(after, this.#lookup);
    if ("waitingFor" in evaluation) return `dependency ${evaluation.waitingFor.id} (required: ${evaluation.waitingFor.condition})`;
    if ("failed" in evaluation) return evaluation.failed;
    if (notBefore > now) return `not before ${new Date(notBefore).toISOString()}`;
    return undefined;
  }

  /**
   * Puts a queued job where it belongs: in the admission queue when nothing but capacity holds it back, or held while
   * a dependency is open or its start time ahead. Returns why it must fail instead (a dependency ended otherwise than
   * required), having put it nowhere.
   */
  place(entry: QueueEntry, after: readonly Dependency[], notBefore: number, now: number): string | undefined {
    const evaluation = evaluate(after, this.#lookup);
    if ("failed" in evaluation) return evaluation.failed;
    if ("met" in evaluation && notBefore <= now) this.queue.add(entry);
    else this.holds.add({ entry, after, notBefore });
    return undefined;
  }

  /** Evaluates again the held jobs waiting for `id` (which just ended). */
  dependentsEnded(id: string, now: number): Unheld {
    return this.#recheck(this.holds.dependentsOf(id), now);
  }

  /** Evaluates again the held jobs whose start time has come; `next` is the next start time ahead (Infinity: none). */
  releaseDue(now: number): Unheld & { next: number } {
    const { due, next } = this.holds.due(now);
    return { ...this.#recheck(due, now), next };
  }

  #recheck(held: readonly Held[], now: number): Unheld {
    const unheld: Unheld = { released: [], failed: [] };
    for (const h of held) {
      const evaluation = evaluate(h.after, this.#lookup);
      if ("waitingFor" in evaluation || ("met" in evaluation && h.notBefore > now)) continue;
      this.holds.remove(h.entry.id);
      if ("failed" in evaluation) unheld.failed.push({ held: h, reason: evaluation.failed });
      else {
        this.queue.add(h.entry);
        unheld.released.push(h);
      }
    }
    return unheld;
  }

  /**
   * Takes a queued job out (cancelled), from the queue or the held ones (`held` then says what it waited for);
   * undefined when it was in neither (being started).
   */
  cancel(id: string): { held?: Held } | undefined {
    if (this.queue.remove(id)) return {};
    const held = this.holds.remove(id);
    return held === undefined ? undefined : { held };
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
  checkRoom(owner: string): void {
    const held = this.holds;
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

  /** Where a queued or held job is and what it waits for; undefined when `id` is neither (being started). */
  status(id: string, now: number): { position: number; reason: string } | undefined {
    const held = this.holds.get(id);
    if (held !== undefined) {
      const { owner, seq } = held.entry;
      const position = this.queue.sizeOf(owner) + this.holds.aheadOf(owner, seq) + 1;
      return { position, reason: this.waitReason(held.after, held.notBefore, now) ?? "turn: released to the queue" };
    }
    const entry = this.queue.entry(id);
    if (entry === undefined) return undefined;
    const position = this.queue.position(id);
    const why = blocked(entry, this.load, this.settings.caps);
    if (why !== undefined) return { position, reason: why.reason };
    if (position > 1) return { position, reason: `turn: after ${String(position - 1)} earlier job(s) of ${entry.owner}` };
    return { position, reason: "turn: next to start" };
  }
}
