// The admission policy: which queued job starts next, as a pure function of the queue's heads, what runs and the
// host's capacities. No clock, no I/O: the caller passes the time and acts on the answer.

/** A queued job as the policy sees it. */
export interface QueueEntry {
  id: string;
  owner: string;
  /** Creation order: lower was queued earlier. */
  seq: number;
  /** Orders the owner's own queued jobs: higher first. */
  priority: number;
  /** The most jobs its owner may have running, this one included, and the setting behind it (for messages). */
  maxRunning: number;
  maxRunningName: string;
  /** Memory it reserves (its memory.max), 0 when it declares none. */
  memoryBytes: number;
  /** CPUs it reserves (its cpu.max as CPUs), 0 when it declares none. */
  cpus: number;
  /** When it was queued, milliseconds since the epoch. */
  queuedAt: number;
}

/** What runs now: jobs per owner and in all, and the memory and CPUs they reserve. */
export interface LoadView {
  readonly total: number;
  readonly memoryBytes: number;
  readonly cpus: number;
  runningOf(owner: string): number;
}

/** A capacity and the setting behind it. */
export interface Capacity {
  value: number;
  name: string;
}

/** The host's capacities for admission. */
export interface Capacities {
  /** Most running jobs in all (Infinity: no limit). */
  maxRunning: Capacity;
  /** Memory running jobs may reserve together. */
  memoryBytes: Capacity;
  /** CPUs running jobs may reserve together. */
  cpus: Capacity;
  /** A job blocked by the host's capacity longer than this holds back admissions that would delay it further. */
  starvationMs: number;
  /** Fair-share weights by owner (whole numbers above 0); an owner not named weighs 1. */
  weights?: ReadonlyMap<string, number>;
}

/** `owner`'s fair-share weight: the running jobs it is due relative to others. */
export function weightOf(owner: string, caps: Capacities): number {
  return caps.weights?.get(owner) ?? 1;
}

/** Why a job cannot start now: its owner's slots, the host's slots, memory or CPU, with a sentence. */
export type Blocked = { by: "slot" | "host" | "memory" | "cpu"; reason: string };

const gib = 1024 ** 3;
const mib = 1024 ** 2;

/** A size for a sentence: GiB or MiB with at most one decimal. */
export function formatBytes(bytes: number): string {
  const [unit, size] = bytes >= gib ? ["GiB", gib] : ["MiB", mib];
  return `${String(Math.round((bytes / size) * 10) / 10)} ${unit}`;
}

const cpuText = (cpus: number): string => String(Math.round(cpus * 100) / 100);

/** What keeps `entry` from starting now (owner's slots first, then the host's, memory, CPU); undefined if it fits. */
export function blocked(entry: QueueEntry, load: LoadView, caps: Capacities): Blocked | undefined {
  const own = load.runningOf(entry.owner);
  if (own >= entry.maxRunning) return { by: "slot", reason: `slot: ${entry.owner} has ${String(own)} running (${entry.maxRunningName})` };
  if (load.total >= caps.maxRunning.value) return { by: "host", reason: `host: ${String(load.total)} jobs running (${caps.maxRunning.name})` };
  const memory = caps.memoryBytes.value;
  if (entry.memoryBytes > 0 && load.memoryBytes + entry.memoryBytes > memory) {
    const free = Math.max(0, memory - load.memoryBytes);
    return { by: "memory", reason: `memory: needs ${formatBytes(entry.memoryBytes)}, ${formatBytes(free)} of ${formatBytes(memory)} free (${caps.memoryBytes.name})` };
  }
  const cpus = caps.cpus.value;
  // A little slack for sums of fractions (0.1 + 0.2).
  if (entry.cpus > 0 && load.cpus + entry.cpus > cpus + 1e-9) {
    const free = Math.max(0, cpus - load.cpus);
    return { by: "cpu", reason: `cpu: needs ${cpuText(entry.cpus)} CPUs, ${cpuText(free)} of ${cpuText(cpus)} free (${caps.cpus.name})` };
  }
  return undefined;
}

/** The order of one owner's queued jobs: higher priority first, then first come first served. */
export function queueOrder(a: QueueEntry, b: QueueEntry): number {
  return b.priority - a.priority || a.seq - b.seq;
}

/**
 * The job the host waits for: the earliest queued head that has waited at least the starvation bound and is held
 * up by the host (its slots, memory or CPU), not by its own owner's slots. Undefined when none.
 */
export function starving(heads: readonly QueueEntry[], load: LoadView, caps: Capacities, now: number): { entry: QueueEntry; by: Blocked["by"] } | undefined {
  let found: { entry: QueueEntry; by: Blocked["by"] } | undefined;
  for (const head of heads) {
    if (now - head.queuedAt < caps.starvationMs) continue;
    if (found !== undefined && found.entry.seq < head.seq) continue;
    const why = blocked(head, load, caps);
    if (why !== undefined && why.by !== "slot") found = { entry: head, by: why.by };
  }
  return found;
}

/** Whether admitting `entry` would take what the starving job waits for. */
function delays(entry: QueueEntry, by: Blocked["by"], caps: Capacities): boolean {
  if (by === "memory") return entry.memoryBytes > 0;
  if (by === "cpu") return entry.cpus > 0;
  // Waiting for a host slot: every start takes one.
  return caps.maxRunning.value !== Infinity;
}

/**
 * The job to admit next among `heads` (the next job of each owner with queued work, see {@link queueOrder}), or
 * undefined when none may start now. A head may start when its owner is under its running limit, all running jobs
 * under the host's, and its memory and CPU reservations fit. Of those, the one whose owner has the fewest running
 * jobs relative to its weight (see {@link weightOf}) wins; ties go to the earliest queued. While a head has starved
 * (see {@link starving}), heads whose start would delay it further are held back: it is admitted as soon as it fits,
 * whatever the stream of smaller jobs.
 */
export function nextAdmission(heads: readonly QueueEntry[], load: LoadView, caps: Capacities, now: number): QueueEntry | undefined {
  const starved = starving(heads, load, caps, now);
  let best: { entry: QueueEntry; running: number; weight: number } | undefined;
  for (const head of heads) {
    if (blocked(head, load, caps) !== undefined) continue;
    if (starved !== undefined && head !== starved.entry && delays(head, starved.by, caps)) continue;
    const running = load.runningOf(head.owner);
    const weight = weightOf(head.owner, caps);
    // running / weight against best's, cross-multiplied: whole numbers compare exactly.
    const order = best === undefined ? -1 : running * best.weight - best.running * weight;
    if (order < 0 || (order === 0 && best !== undefined && head.seq < best.entry.seq)) best = { entry: head, running, weight };
  }
  return best?.entry;
}
