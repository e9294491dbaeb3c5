import { Code, ConnectError } from "@connectrpc/connect";
import { JobChangeKind, JobState, type Job } from "@jobexec/proto";
import { signal } from "@preact/signals";
import { cancelled, errorText, type JobClient } from "../app/client.ts";

const usageRefreshMs = 5000;

/** How far in its life a state is: a change never moves a job back (a change older than the listing it follows). */
const rank: Record<number, number> = { [JobState.QUEUED]: 0, [JobState.RUNNING]: 1, [JobState.EXITED]: 2, [JobState.STOPPED]: 2, [JobState.FAILED]: 2 };

/** Orders jobs by creation, newest first, to the nanosecond (jobs queued in a burst share milliseconds). */
function newestFirst(a: Job, b: Job): number {
  const as = a.createTime?.seconds ?? 0n;
  const bs = b.createTime?.seconds ?? 0n;
  if (as !== bs) return bs > as ? 1 : -1;
  return (b.createTime?.nanos ?? 0) - (a.createTime?.nanos ?? 0) || (a.id < b.id ? 1 : -1);
}

/**
 * The caller's jobs (an admin's: everyone's), kept live: the watch (WatchJobs) is opened first, the jobs are listed
 * (ListJobs, every page) once its position is known, then every change is applied. A watch that breaks is resumed
 * from the last change seen; when the server cannot resume it (too far behind, or restarted), the jobs are listed
 * again.
 */
export class JobsStore {
  /** The jobs, newest first. */
  readonly jobs = signal<Job[]>([]);
  /** "connecting" until the first listing, then "live"; "retrying" after a broken watch. */
  readonly status = signal<"connecting" | "live" | "retrying">("connecting");
  readonly error = signal("");
  /** Whether the caller sees everyone's jobs (an admin). */
  readonly allOwners = signal(true);
  readonly #byId = new Map<string, Job>();
  #scheduled = false;
  private readonly client: JobClient;

  constructor(client: JobClient) {
    this.client = client;
  }

  /** Keeps the jobs live until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    void this.refreshUsage(signal);
    await this.watch(signal);
  }

  /**
   * Changes carry a job's usage as it was at the change: the running jobs' CPU and memory are read again (ListJobs of
   * the running ones) every few seconds while there are some.
   */
  private async refreshUsage(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, usageRefreshMs));
      if (signal.aborted || this.status.value !== "live") continue;
      if (![...this.#byId.values()].some((job) => job.state === JobState.RUNNING)) continue;
      try {
        let pageToken = "";
        do {
          const page = await this.client.listJobs({ allOwners: this.allOwners.value, states: [JobState.RUNNING], pageSize: 1000, pageToken }, { signal });
          for (const job of page.jobs) if (this.#byId.get(job.id)?.state === JobState.RUNNING) this.#byId.set(job.id, job);
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        this.schedule();
      } catch {
        // The watch reports what is wrong; the next round tries again.
      }
    }
  }

  private async watch(signal: AbortSignal): Promise<void> {
    let epoch = "";
    let sequence = 0n;
    while (!signal.aborted) {
      try {
        const watch = this.client.watchJobs({ allOwners: this.allOwners.value, resumeEpoch: epoch, afterSequence: sequence }, { signal });
        for await (const message of watch) {
          if (message.event.case === "position") {
            const position = message.event.value;
            if (epoch === "" || position.resync) await this.list(signal);
            epoch = position.epoch;
            sequence = position.sequence;
            this.status.value = "live";
            this.error.value = "";
          } else if (message.event.case === "change") {
            const change = message.event.value;
            sequence = change.sequence;
            if (change.job !== undefined) this.apply(change.kind, change.job);
          }
        }
      } catch (error) {
        // A refused token ends the page's session for good (the app says so).
        if (signal.aborted || cancelled(error) || (error instanceof ConnectError && error.code === Code.Unauthenticated)) return;
        if (error instanceof ConnectError && error.code === Code.PermissionDenied && this.allOwners.value) {
          // Not an admin: the caller's own jobs.
          this.allOwners.value = false;
          epoch = "";
          continue;
        }
        this.status.value = "retrying";
        this.error.value = errorText(error);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  }

  private async list(signal: AbortSignal): Promise<void> {
    const jobs: Job[] = [];
    let pageToken = "";
    do {
      const page = await this.client.listJobs({ allOwners: this.allOwners.value, pageSize: 1000, pageToken }, { signal });
      jobs.push(...page.jobs);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    this.#byId.clear();
    for (const job of jobs) this.#byId.set(job.id, job);
    this.publish();
  }

  private apply(kind: JobChangeKind, job: Job): void {
    if (kind === JobChangeKind.DELETED) {
      this.#byId.delete(job.id);
    } else {
      const known = this.#byId.get(job.id);
      if (known !== undefined && (rank[known.state] ?? 0) > (rank[job.state] ?? 0)) return;
      this.#byId.set(job.id, job);
    }
    this.schedule();
  }

  /** Publishes at most once a frame: a burst of changes (a thousand jobs ending) sorts once. */
  private schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      this.publish();
    });
  }

  private publish(): void {
    this.jobs.value = [...this.#byId.values()].sort(newestFirst);
  }
}
