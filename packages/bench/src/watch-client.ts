#!/usr/bin/env node
// A WatchJobs client process for the queue figure: many admin watchers of every job's changes, each checked, in a
// process of its own so that decoding them costs the clients that time StartJob nothing. Messages (advanced
// serialization):
//   child  -> {type: "ready"}: loaded
//   parent -> {type: "watch", url, tls, watchers, connections, owners, queued, jobs, slots}: open the watchers (no
//             filter, all owners) over that many connections; each owner has `queued` jobs queued now, `jobs` of the
//             owners' will end, `slots` run at once
//   child  -> {type: "done", watchers, samples, windows}: each watcher's report; the owners' running jobs sampled,
//             and their starts among each `slots` consecutive starts
//   child  -> {type: "watching"}: every watcher has its position
//   parent -> {type: "sample"}: from now on, sample the owners' running jobs every 100 ms while all have queued work
//   parent -> {type: "sample"}: from now on, sample the owners' running jobs every 100 ms while all have queued work
//   child  -> {type: "drained"}: the first watcher saw the last of the `jobs` end
//   parent -> {type: "deletes", count}: say when every watcher has seen `count` deletions in all
//   child  -> {type: "deleted"}
//   parent -> {type: "stop"}: close the watchers
//   parent -> {type: "exit"}
import { createHash } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { JobChangeKind, JobService, JobState } from "@jobexec/proto";
import { benchTransport } from "./client.ts";
import type { Tls } from "./tls.ts";

/** What one watcher received, and what it found wrong (none: every change, consecutive, in order). */
export interface WatcherReport {
  changes: number;
  /** Changes of the owners' jobs, by kind. */
  created: number;
  started: number;
  ended: number;
  deleted: number;
  /** The first sequence received. */
  first: number;
  /** SHA-256 of every change received (sequence, kind, job id), in order: equal for watchers that saw the same. */
  digest: string;
  errors: string[];
}

export type ToWatcher =
  | { type: "watch"; url: string; tls: Pick<Tls, "ca" | "clientCert" | "clientKey">; watchers: number; connections: number; owners: string[]; queued: number; jobs: number; slots: number }
  | { type: "sample" }
  | { type: "deletes"; count: number }
  | { type: "stop" }
  | { type: "exit" };
export type FromWatcher =
  | { type: "ready" }
  | { type: "watching" }
  | { type: "drained" }
  | { type: "deleted" }
  | { type: "done"; watchers: WatcherReport[]; samples: number[][]; windows: number[][] }
  | { type: "error"; message: string };

const send = (message: FromWatcher): void => void process.send?.(message);
// The watch under way: starts its sampling, counts its deletions against `deletions`, ends it.
let sampling: (() => NodeJS.Timeout) | undefined;
let timer: NodeJS.Timeout | undefined;
let deletions: number | undefined;
let deletionsSeen = (): void => undefined;
let stop = (): void => undefined;
// Sampling period of the owners' running jobs (while every owner has queued work).
const sampleMs = 100;

/** Per-owner queued and running counts as the changes tell them, and samples of the running ones. */
class Shares {
  readonly #owners: string[];
  readonly #queued = new Map<string, number>();
  readonly #running = new Map<string, number>();
  readonly #states = new Map<string, "queued" | "running">();
  readonly samples: number[][] = [];
  /** For each start while every owner had queued work: each owner's starts among the last `window` (itself included). */
  readonly windows: number[][] = [];
  readonly #recent: string[] = [];
  readonly #window: number;
  constructor(owners: string[], queued: number, window: number) {
    this.#window = window;
    this.#owners = owners;
    for (const owner of owners) this.#queued.set(owner, queued);
  }
  #add(counts: Map<string, number>, owner: string, n: number): void {
    counts.set(owner, (counts.get(owner) ?? 0) + n);
  }
  take(kind: JobChangeKind, id: string, owner: string, state: JobState): void {
    if (!this.#owners.includes(owner)) return;
    if (kind === JobChangeKind.STARTED) this.#started(owner);
    // A job queued before the watch began is known by its start.
    const was = this.#states.get(id) ?? (kind === JobChangeKind.STARTED ? "queued" : undefined);
    if (was !== undefined) this.#add(was === "queued" ? this.#queued : this.#running, owner, -1);
    const now = kind === JobChangeKind.ENDED || kind === JobChangeKind.DELETED ? undefined : state === JobState.QUEUED ? "queued" : "running";
    if (now === undefined) this.#states.delete(id);
    else {
      this.#states.set(id, now);
      this.#add(now === "queued" ? this.#queued : this.#running, owner, 1);
    }
  }
  #started(owner: string): void {
    this.#recent.push(owner);
    if (this.#recent.length > this.#window) this.#recent.shift();
    if (this.#recent.length === this.#window && this.#owners.every((o) => (this.#queued.get(o) ?? 0) > 0)) {
      this.windows.push(this.#owners.map((o) => this.#recent.filter((r) => r === o).length));
    }
  }
  sample(): void {
    if (this.#owners.every((o) => (this.#queued.get(o) ?? 0) > 0)) this.samples.push(this.#owners.map((o) => this.#running.get(o) ?? 0));
  }
}

async function watch(message: Extract<ToWatcher, { type: "watch" }>): Promise<void> {
  const { url, tls, watchers, connections, owners, queued, jobs, slots } = message;
  // HTTP/2 windows of 64 KiB: a watcher behind holds its backlog in the server's change log, not in megabytes of
  // the connection's buffers.
  const clients = Array.from({ length: connections }, () => createClient(JobService, benchTransport(url, tls, { windows: "defaults" })));
  const abort = new AbortController();
  const shares = new Shares(owners, queued, slots);
  sampling = () => setInterval(() => shares.sample(), sampleMs);
  let positioned = 0;
  const reports: WatcherReport[] = [];
  deletionsSeen = () => {
    if (deletions !== undefined && reports.length === watchers && reports.every((r) => r.deleted >= (deletions as number))) {
      deletions = undefined;
      send({ type: "deleted" });
    }
  };
  stop = () => abort.abort();
  const run = async (w: number): Promise<WatcherReport> => {
    const report: WatcherReport = { changes: 0, first: 0, created: 0, started: 0, ended: 0, deleted: 0, digest: "", errors: [] };
    const hash = createHash("sha256");
    // The first watcher also checks each job's changes come in their order.
    const order = w === 0 ? new Map<string, JobChangeKind>() : undefined;
    reports[w] = report;
    let last = -1n;
    const error = (text: string): void => void (report.errors.length < 5 && report.errors.push(text));
    try {
      for await (const res of (clients[w % connections] as (typeof clients)[number]).watchJobs({ allOwners: true }, { signal: abort.signal })) {
        if (res.event.case === "position") {
          if (res.event.value.resync) error(`resync at the start: ${res.event.value.reason}`);
          last = res.event.value.sequence;
          if (++positioned === watchers) send({ type: "watching" });
          continue;
        }
        if (res.event.case !== "change") continue;
        const { sequence, kind, job } = res.event.value;
        if (job === undefined) {
          error(`change ${String(sequence)} without a job`);
          continue;
        }
        if (sequence !== last + 1n) error(`change ${String(sequence)} after ${String(last)}`);
        last = sequence;
        if (report.changes++ === 0) report.first = Number(sequence);
        hash.update(`${String(sequence)} ${String(kind)} ${job.id}\n`);
        if (order !== undefined) {
          const before = order.get(job.id);
          if (before !== undefined && kind <= before) error(`job ${job.id}: change ${String(kind)} after ${String(before)}`);
          order.set(job.id, kind);
          shares.take(kind, job.id, job.owner, job.state);
        }
        if (!owners.includes(job.owner)) continue;
        if (kind === JobChangeKind.CREATED) report.created++;
        else if (kind === JobChangeKind.STARTED) report.started++;
        else if (kind === JobChangeKind.ENDED) {
          if (++report.ended === jobs && w === 0) send({ type: "drained" });
        } else if (kind === JobChangeKind.DELETED) {
          report.deleted++;
          deletionsSeen();
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) error(`stream failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    report.digest = hash.digest("hex");
    return report;
  };
  await Promise.all(Array.from({ length: watchers }, (_, w) => run(w)));
  clearInterval(timer);
  send({ type: "done", watchers: reports, samples: shares.samples, windows: shares.windows });
}

process.on("message", (message: ToWatcher) => {
  if (message.type === "exit") process.exit(0);
  if (message.type === "sample") timer = sampling?.();
  else if (message.type === "stop") stop();
  else if (message.type === "deletes") {
    deletions = message.count;
    deletionsSeen();
  } else
    watch(message).catch((err: unknown) => send({ type: "error", message: err instanceof Error ? err.message : String(err) }));
});
send({ type: "ready" });
