// What the running jobs take: how many per owner and in all, and the memory and CPUs they reserve.
import type { LoadView, QueueEntry } from "./admission.ts";

/** What one running job reserves. */
export type Reservation = Pick<QueueEntry, "owner" | "memoryBytes" | "cpus">;

/** The running jobs' load, counted from admission (before the spawn) to the job's end. */
export class RunningLoad implements LoadView {
  readonly #perOwner = new Map<string, number>();
  total = 0;
  memoryBytes = 0;
  cpus = 0;

  runningOf(owner: string): number {
    return this.#perOwner.get(owner) ?? 0;
  }

  /** Counts a job as running; the function returned gives its share back (later calls do nothing). */
  hold(job: Reservation): () => void {
    this.#perOwner.set(job.owner, this.runningOf(job.owner) + 1);
    this.total++;
    this.memoryBytes += job.memoryBytes;
    this.cpus += job.cpus;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = this.runningOf(job.owner) - 1;
      if (left === 0) this.#perOwner.delete(job.owner);
      else this.#perOwner.set(job.owner, left);
      this.total--;
      this.memoryBytes -= job.memoryBytes;
      this.cpus -= job.cpus;
    };
  }

  /** Owners with running jobs and how many each has. */
  owners(): Map<string, number> {
    return new Map(this.#perOwner);
  }
}
