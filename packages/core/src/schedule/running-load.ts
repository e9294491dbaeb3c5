// What the running jobs take: how many per owner and in all, and the memory and CPUs they reserve.
import type { LoadView, QueueEntry } from "./admission.ts";

/** What one running job reserves. */
export type Reservation = Pick<QueueEntry, "owner" | "memoryBytes" | "cpus">;

/** What one owner's running jobs take: how many, and the memory and CPUs they reserve. */
export interface OwnerLoad {
  running: number;
  memoryBytes: number;
  cpus: number;
}

/** The running jobs' load, counted from admission (before the spawn) to the job's end. */
export class RunningLoad implements LoadView {
  readonly #perOwner = new Map<string, OwnerLoad>();
  total = 0;
  memoryBytes = 0;
  cpus = 0;

  runningOf(owner: string): number {
    return this.#perOwner.get(owner)?.running ?? 0;
  }

  /** What `owner`'s running jobs take (a copy; all 0 when none runs). */
  loadOf(owner: string): OwnerLoad {
    const own = this.#perOwner.get(owner);
    return own === undefined ? { running: 0, memoryBytes: 0, cpus: 0 } : { ...own };
  }

  /** Counts a job as running; the function returned gives its share back (later calls do nothing). */
  hold(job: Reservation): () => void {
    let own = this.#perOwner.get(job.owner);
    if (own === undefined) this.#perOwner.set(job.owner, (own = { running: 0, memoryBytes: 0, cpus: 0 }));
    own.running++;
    own.memoryBytes += job.memoryBytes;
    own.cpus += job.cpus;
    this.total++;
    this.memoryBytes += job.memoryBytes;
    this.cpus += job.cpus;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      // The owner's entry lives while any of its holds does: this one's.
      const mine = this.#perOwner.get(job.owner) as OwnerLoad;
      if (--mine.running === 0) this.#perOwner.delete(job.owner);
      mine.memoryBytes -= job.memoryBytes;
      mine.cpus -= job.cpus;
      this.total--;
      this.memoryBytes -= job.memoryBytes;
      this.cpus -= job.cpus;
    };
  }

  /** Owners with running jobs and how many each has. */
  owners(): Map<string, number> {
    return new Map([...this.#perOwner].map(([owner, own]) => [owner, own.running]));
  }
}
