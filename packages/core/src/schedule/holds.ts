// Queued jobs held back by what is not capacity: the jobs they wait for, and the moment they may start at.
import type { QueueEntry } from "./admission.ts";
import type { Dependency } from "./dependencies.ts";

/** A queued job that may not be admitted yet. */
export interface Held {
  entry: QueueEntry;
  after: readonly Dependency[];
  /** Milliseconds since the epoch; 0 for none. */
  notBefore: number;
}

/**
 * The held jobs, and for each job the held jobs that wait for it: an end looks up its dependents, not every held job;
 * a dependency is kept (from retention and delete) while anyone waits for it.
 */
export class Holds {
  readonly #held = new Map<string, Held>();
  readonly #dependents = new Map<string, Set<string>>();
  readonly #perOwner = new Map<string, number>();

  /** Held jobs of `owner`. */
  sizeOf(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /** Owners with held jobs. */
  owners(): string[] {
    return [...this.#perOwner.keys()];
  }

  get size(): number {
    return this.#held.size;
  }

  get(id: string): Held | undefined {
    return this.#held.get(id);
  }

  add(held: Held): void {
    this.#held.set(held.entry.id, held);
    this.#perOwner.set(held.entry.owner, this.sizeOf(held.entry.owner) + 1);
    for (const dep of held.after) {
      let set = this.#dependents.get(dep.id);
      if (set === undefined) this.#dependents.set(dep.id, (set = new Set()));
      set.add(held.entry.id);
    }
  }

  /** Takes a job out (released to the queue, cancelled or failed); undefined when it was not held. */
  remove(id: string): Held | undefined {
    const held = this.#held.get(id);
    if (held === undefined) return undefined;
    this.#held.delete(id);
    const left = this.sizeOf(held.entry.owner) - 1;
    if (left === 0) this.#perOwner.delete(held.entry.owner);
    else this.#perOwner.set(held.entry.owner, left);
    for (const dep of held.after) {
      const set = this.#dependents.get(dep.id);
      set?.delete(id);
      if (set?.size === 0) this.#dependents.delete(dep.id);
    }
    return held;
  }

  /** The held jobs that wait for `id`. */
  dependentsOf(id: string): Held[] {
    return [...(this.#dependents.get(id) ?? [])].map((d) => this.#held.get(d) as Held);
  }

  /** Some held job that waits for `id`, if any. */
  waiterFor(id: string): string | undefined {
    return this.#dependents.get(id)?.values().next().value;
  }

  /** Held jobs whose moment has come (notBefore <= now), and the next moment still ahead (Infinity: none). */
  due(now: number): { due: Held[]; next: number } {
    const due: Held[] = [];
    let next = Infinity;
    for (const held of this.#held.values()) {
      if (held.notBefore <= now) due.push(held);
      else next = Math.min(next, held.notBefore);
    }
    return { due, next };
  }

  /** Held jobs of `owner` queued before `seq`. */
  aheadOf(owner: string, seq: number): number {
    let n = 0;
    for (const held of this.#held.values()) if (held.entry.owner === owner && held.entry.seq < seq) n++;
    return n;
  }
}
