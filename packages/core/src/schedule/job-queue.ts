// The queued jobs: one ordered list per owner (priority, then first come first served), and counts for the bounds.
import { queueOrder, type QueueEntry } from "./admission.ts";

/** Queued jobs by owner, each owner's in {@link queueOrder}. */
export class JobQueue {
  readonly #byOwner = new Map<string, QueueEntry[]>();
  readonly #byId = new Map<string, QueueEntry>();

  /** Queued jobs in all. */
  get size(): number {
    return this.#byId.size;
  }

  /** Queued jobs of `owner`. */
  sizeOf(owner: string): number {
    return this.#byOwner.get(owner)?.length ?? 0;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  add(entry: QueueEntry): void {
    let list = this.#byOwner.get(entry.owner);
    if (list === undefined) {
      list = [];
      this.#byOwner.set(entry.owner, list);
    }
    // Nearly always the last: found from the end in a step or two.
    let at = list.length;
    while (at > 0 && queueOrder(list[at - 1] as QueueEntry, entry) > 0) at--;
    list.splice(at, 0, entry);
    this.#byId.set(entry.id, entry);
  }

  /** Takes a job out of the queue (admitted or cancelled); false when it was not queued. */
  remove(id: string): boolean {
    const entry = this.#byId.get(id);
    if (entry === undefined) return false;
    this.#byId.delete(id);
    const list = this.#byOwner.get(entry.owner) as QueueEntry[];
    list.splice(list.indexOf(entry), 1);
    if (list.length === 0) this.#byOwner.delete(entry.owner);
    return true;
  }

  /** The next job of each owner with queued work. */
  heads(): QueueEntry[] {
    return [...this.#byOwner.values()].map((list) => list[0] as QueueEntry);
  }

  /** The first `depth` jobs of each owner, breadth first (every owner's next, then every owner's second, ...), at most `most`. */
  leading(depth: number, most: number): QueueEntry[] {
    const lists = [...this.#byOwner.values()];
    const found: QueueEntry[] = [];
    for (let at = 0; at < depth; at++) {
      for (const list of lists) {
        const entry = list[at];
        if (entry === undefined) continue;
        if (found.length === most) return found;
        found.push(entry);
      }
    }
    return found;
  }

  /** The entry of a queued job. */
  entry(id: string): QueueEntry | undefined {
    return this.#byId.get(id);
  }

  /** 1 for the next of its owner's queued jobs, 2 for the one after, ...; 0 when `id` is not queued. */
  position(id: string): number {
    const entry = this.#byId.get(id);
    if (entry === undefined) return 0;
    return (this.#byOwner.get(entry.owner) as QueueEntry[]).indexOf(entry) + 1;
  }

  /** Owners with queued jobs and how many each has. */
  owners(): Map<string, number> {
    return new Map([...this.#byOwner].map(([owner, list]) => [owner, list.length]));
  }
}
