// The pool of standbys: a few cgexec processes booted ahead of need, per output mode, refilled in the background.
import type { LogEvent, StandbyCounts } from "../types.ts";
import { Standby, type StandbyKind, type StandbyPlace } from "./standby.ts";

/** The largest pool size accepted. */
export const maxStandbys = 32;

// After a standby died before it was ready, the next spawn waits this long, doubling with each such death in a
// row up to the cap: a host that cannot start standbys gets cold starts and a log line now and then, not a loop.
const firstBackoffMs = 250;
const maxBackoffMs = 30_000;

/**
 * Keeps `size` standbys of each kind in use: "separate" (the default output mode) from the start, "merged" from the
 * first job that asks for one (a standby's stdout and stderr are fixed when it is spawned, and Node has no
 * dup2 to merge them later). take() hands out a ready one or none (the caller then starts cold); refill() spawns
 * replacements one per turn of the event loop, so no spawn lands inside the start that emptied the slot.
 */
export class StandbyPool {
  readonly size: number;
  readonly #place: StandbyPlace;
  readonly #log: (event: LogEvent) => void;
  readonly #wanted = new Set<StandbyKind>();
  /** Spawned and not taken, ready or booting, per kind. */
  readonly #standbys = new Map<StandbyKind, Set<Standby>>();
  /** Spawns whose files are being made (not yet in #standbys), per kind. */
  readonly #making = new Map<StandbyKind, number>();
  readonly #pending = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #deathsInARow = 0;
  #warm = 0;
  #cold = 0;
  #closed = false;

  constructor(size: number, place: StandbyPlace, log: (event: LogEvent) => void) {
    this.size = size;
    this.#place = place;
    this.#log = log;
  }

  /** Starts filling the pool for `kind`: the default output mode. */
  start(kind: StandbyKind): void {
    if (this.size === 0) return;
    this.#wanted.add(kind);
    this.refill();
  }

  /**
   * A standby of `mode`, now the caller's: a ready one, else one still booting (whose rest of a start-up is still
   * less than a whole cold start: the caller waits for it with whenBooted(), and starts cold if it died instead);
   * undefined when there is none (or the pool is off): the caller starts cold. `mode` is kept warm from now on.
   */
  take(mode: StandbyKind): Standby | undefined {
    if (this.#closed || this.size === 0) return undefined;
    if (!this.#wanted.has(mode)) {
      this.#wanted.add(mode);
      this.refill();
    }
    const standbys = this.#setOf(mode);
    // Ready ones first, in the order they were made; then the booting ones, oldest (nearest to ready) first.
    for (const standby of [...standbys].filter((s) => s.ready).concat([...standbys].filter((s) => !s.ready && s.takeable))) {
      standbys.delete(standby);
      if (standby.intact()) return standby;
      this.#log({ level: "warn", message: `standby pid ${String(standby.child.pid)} lost its output files or cgroup (another manager on this data directory?); replacing it`, jobId: standby.id });
      void this.#discard(standby).then(() => this.refill());
    }
    return undefined;
  }

  /**
   * Puts back a standby that take() gave out and that was not used (nothing about its job was made yet); discards it
   * when the pool was refilled meanwhile (a refused or queued start gives its standby back after a refill).
   */
  giveBack(standby: Standby): void {
    if (this.#closed || !standby.takeable || this.#countOf(standby.kind) >= this.size) {
      void this.#discard(standby);
      return;
    }
    this.#setOf(standby.kind).add(standby);
  }

  #setOf(kind: StandbyKind): Set<Standby> {
    let standbys = this.#standbys.get(kind);
    if (standbys === undefined) this.#standbys.set(kind, (standbys = new Set()));
    return standbys;
  }

  /** Refills once `started` settled: the spawn never delays the start that took the standby. */
  refillAfter(started: Promise<unknown>): void {
    void started.finally(() => this.refill());
  }

  /** Counts a start (from a standby or cold) for {@link counts}. */
  countStart(warm: boolean): void {
    if (warm) this.#warm++;
    else this.#cold++;
  }

  /** Spawns what is missing, one standby per turn of the event loop (after `delayMs`), until every wanted mode is full. */
  refill(delayMs = 0): void {
    if (this.#closed || this.#timer !== undefined) return;
    const mode = [...this.#wanted].find((m) => this.#countOf(m) < this.size);
    if (mode === undefined) return;
    const backoff = this.#deathsInARow === 0 ? 0 : Math.min(maxBackoffMs, firstBackoffMs * 2 ** (this.#deathsInARow - 1));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#spawnOne(mode);
      this.refill();
    }, Math.max(delayMs, backoff));
  }

  /** Figures for logs and metrics. */
  counts(): StandbyCounts {
    let idle = 0;
    let starting = 0;
    for (const standbys of this.#standbys.values()) {
      for (const standby of standbys) {
        if (standby.ready) idle++;
        else starting++;
      }
    }
    for (const making of this.#making.values()) starting += making;
    return { size: this.size, target: this.size * this.#wanted.size, idle, starting, warmStarts: this.#warm, coldStarts: this.#cold };
  }

  /** Kills every standby and removes their output directories and cgroups. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Spawns under way finish (and are discarded) first.
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
    const all = [...this.#standbys.values()].flatMap((set) => [...set]);
    for (const set of this.#standbys.values()) set.clear();
    await Promise.all(all.map((standby) => this.#discard(standby)));
  }

  #countOf(mode: StandbyKind): number {
    return (this.#standbys.get(mode)?.size ?? 0) + (this.#making.get(mode) ?? 0);
  }

  #spawnOne(mode: StandbyKind): void {
    this.#making.set(mode, (this.#making.get(mode) ?? 0) + 1);
    const spawning = Standby.spawn(this.#place, mode, () => {
      this.#deathsInARow = 0;
    }).then(
      (standby) => {
        this.#making.set(mode, (this.#making.get(mode) ?? 1) - 1);
        if (this.#closed) return this.#discard(standby);
        this.#setOf(mode).add(standby);
        void standby.ended.then(() => this.#ended(standby));
        return undefined;
      },
      (error: unknown) => {
        this.#making.set(mode, (this.#making.get(mode) ?? 1) - 1);
        this.#deathsInARow++;
        this.#log({ level: "error", message: "cannot make a standby; jobs start cold meanwhile", error });
        this.refill();
      },
    );
    this.#pending.add(spawning);
    void spawning.finally(() => this.#pending.delete(spawning));
  }

  /** A standby ended: if it was still the pool's (not taken), log it, clean up after it and replace it. */
  async #ended(standby: Standby): Promise<void> {
    const standbys = this.#standbys.get(standby.kind);
    if (this.#closed || !standbys?.has(standby)) return;
    standbys.delete(standby);
    const { exitCode, signalCode, pid } = standby.child;
    const how = signalCode !== null ? `signal ${signalCode}` : `exit code ${String(exitCode)}`;
    const status = await standby.failure;
    // One that never booted says why (its status line); a run of those backs the refills off.
    if (!standby.booted) this.#deathsInARow++;
    const why = status === "" ? "" : `: ${status}`;
    const when = standby.booted ? "while waiting" : "before it was ready";
    this.#log({ level: "warn", message: `standby pid ${String(pid)} ended ${when} (${how})${why}; replacing it`, jobId: standby.id, cgroup: standby.cgroupDir });
    await this.#discard(standby);
    this.refill();
  }

  /** A standby taken while booting died before it was ready: logged, counted for the back-off, cleaned up, replaced. */
  async diedBooting(standby: Standby): Promise<void> {
    this.#deathsInARow++;
    const status = await standby.failure;
    this.#log({ level: "warn", message: `standby pid ${String(standby.child.pid)} ended before it was ready${status === "" ? "" : `: ${status}`}; the job starts cold`, jobId: standby.id });
    await this.#discard(standby);
    this.refill();
  }

  async #discard(standby: Standby): Promise<void> {
    try {
      await standby.discard();
    } catch (error) {
      this.#log({ level: "warn", message: "cannot remove a standby's output directory or cgroup", jobId: standby.id, cgroup: standby.cgroupDir, error });
    }
  }
}
