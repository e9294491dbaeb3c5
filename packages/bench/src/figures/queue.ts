import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { backup, DatabaseSync } from "node:sqlite";
import { createClient } from "@connectrpc/connect";
import { JobService, JobState } from "@jobexec/proto";
import { type ChildClient, forkClient } from "../child-client.ts";
import { benchTransport } from "../client.ts";
import type { Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { startJob, type JobClient } from "../jobs.ts";
import { collectedMemory, inspectFlag, inspectorUrl } from "../inspector.ts";
import { readCpuSeconds, readMemory } from "../proc.ts";
import { summarizeProfile } from "../profile.ts";
import type { Row, Section } from "../result.ts";
import { startServerProcess, type ServerProcess } from "../server-process.ts";
import { summarize } from "../stats.ts";
import type { FromWatcher, ToWatcher, WatcherReport } from "../watch-client.ts";
import { sleeper } from "../workloads.ts";

// Concurrent clients submitting (each on its own connection, spread over the users), and the host's running slots.
const clients = 8;
const slots = 8;
// Watchers per HTTP/2 connection (the server allows 100 calls on one).
const watchersPerConnection = 25;

const mib = (bytes: number): number => bytes / 2 ** 20;

/**
 * Each client's calls `call(client, i)` for i in 0..count-1, one after another; resolves with every call's ms but
 * the first `untimed` of each client's.
 */
async function timedEach(pool: JobClient[], count: number, call: (client: number, i: number) => Promise<unknown>, untimed = 0): Promise<number[]> {
  const samples: number[] = [];
  await Promise.all(
    pool.map(async (_, c) => {
      for (let i = 0; i < count; i++) {
        const began = performance.now();
        await call(c, i);
        if (i >= untimed) samples.push(performance.now() - began);
      }
    }),
  );
  return samples;
}

/** `clients` JobService clients, each on its own connection, as the users in turn. */
function userClients(server: ServerProcess, context: Context): { pool: JobClient[]; owners: string[] } {
  const { users, ca } = context.tls;
  const owners = Array.from({ length: clients }, (_, c) => (users[c % users.length] as (typeof users)[number]).name);
  const pool = owners.map((_, c) => {
    const user = users[c % users.length] as (typeof users)[number];
    return createClient(JobService, benchTransport(server.url, { ca, clientCert: user.cert, clientKey: user.key }));
  });
  return { pool, owners };
}

/**
 * A copy of the server's state file (read while it serves: SQLite's online backup) with its queued jobs only, in a
 * data directory of its own: a server started on it has the whole queue and nothing running.
 */
async function queueCopy(server: ServerProcess, dir: string): Promise<string> {
  const dataDir = join(dir, "data");
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  await chmod(dir, 0o711);
  const source = new DatabaseSync(join(server.dataDir, "state.db"), { readOnly: true });
  try {
    await backup(source, join(dataDir, "state.db"));
  } finally {
    source.close();
  }
  const copy = new DatabaseSync(join(dataDir, "state.db"));
  copy.exec("DELETE FROM jobs WHERE state != 'queued'");
  copy.close();
  return dir;
}

/** What each watcher must have received of the owners' jobs, by kind. */
interface Expected {
  created: number;
  started: number;
  ended: number;
  deleted: number;
}

/** Every watcher saw the same changes, every one of them, in order: the reports' first failure, else undefined. */
function watchersFault(reports: WatcherReport[], expected: Expected): string | undefined {
  const first = reports[0];
  for (const [w, r] of reports.entries()) {
    if (r.errors.length > 0) return `watcher ${String(w)}: ${r.errors.join("; ")}`;
    const { created, started, ended, deleted } = expected;
    if (r.created !== created || r.started !== started || r.ended !== ended || r.deleted !== deleted) {
      return `watcher ${String(w)} saw ${String(r.created)} created, ${String(r.started)} started, ${String(r.ended)} ended, ${String(r.deleted)} deleted of the users' jobs (expected ${JSON.stringify(expected)})`;
    }
    if (r.digest !== first?.digest || r.first !== first.first || r.changes !== first.changes) return `watcher ${String(w)} saw other changes than watcher 0 (${String(r.changes)} from ${String(r.first)}, against ${String(first?.changes)} from ${String(first?.first)})`;
  }
  return undefined;
}

/**
 * W watchers of every job (a process of their own, see watch-client.ts), each with its position; each user has
 * `queued` jobs queued, and `jobs` of the users' will end.
 */
async function attachWatchers(server: ServerProcess, context: Context, queued: number, jobs: number): Promise<ChildClient<FromWatcher, ToWatcher>> {
  const watcher = forkClient<FromWatcher, ToWatcher>("watch-client");
  try {
    await watcher.ready;
    const watchers = context.sizes.queueWatchers;
    const { ca, clientCert, clientKey } = context.tls;
    watcher.send({ type: "watch", url: server.url, tls: { ca, clientCert, clientKey }, watchers, connections: Math.ceil(watchers / watchersPerConnection), owners: context.tls.users.map((u) => u.name), queued, jobs, slots });
    await watcher.next("watching");
    return watcher;
  } catch (error) {
    watcher.child.kill();
    throw error;
  }
}

/** Closes the watchers and checks what they received; their reports, samples and CPU seconds. */
async function detachWatchers(watcher: ChildClient<FromWatcher, ToWatcher>, expected: Expected): Promise<{ reports: WatcherReport[]; samples: number[][]; windows: number[][]; cpuSeconds: number }> {
  const done = watcher.next("done");
  watcher.send({ type: "stop" });
  const { watchers: reports, samples, windows } = await done;
  const cpuSeconds = await readCpuSeconds(watcher.child.pid as number);
  watcher.send({ type: "exit" });
  const fault = watchersFault(reports, expected);
  if (fault !== undefined) throw new BenchError("workload", `WatchJobs: ${fault}`);
  return { reports, samples, windows, cpuSeconds };
}

/** The dispatch times the server logged (see core's JobManager: "dispatched X ms after a running job's end"). */
async function dispatchTimes(server: ServerProcess): Promise<number[]> {
  return (await server.logLines()).flatMap((line) => {
    const match = typeof line.msg === "string" ? /dispatched ([\d.]+) ms after a running job's end/.exec(line.msg) : null;
    return match?.[1] === undefined ? [] : [Number(match[1])];
  });
}

/**
 * Figure 8: the queue. Run 1: a server with `--max-running 8`, its slots held by 8 sleeping jobs of the admin, takes
 * N `/bin/true` jobs from 4 users (N/4 each) over 8 concurrent clients: each answered QUEUED. Measured: StartJob while
 * queueing against GetJob of queued jobs (same server, same clients), the server's RSS with N queued against before;
 * the start-up of a server on a copy of that queue against one on an empty data directory. Then W admin watchers
 * attach (WatchJobs, every job, in a process of their own), the sleeping jobs are stopped and the queue drains through
 * the 8 slots: its throughput, the dispatch time the server logs for each admission a job's end made room for, the
 * users' running jobs sampled every 100 ms while all four have queued work, what every watcher received (checked),
 * and the server's CPU per change delivered (K deletions with the watchers against K without). Run 2, the baseline:
 * `queueBaseline` of the same jobs from the same clients, with the same watchers, on a server without a running limit, each client
 * starting its next job once its last one ended (8 at a time, no queue).
 */
export async function queueFigure(context: Context): Promise<Section> {
  const { sizes, dir, tls } = context;
  const n = sizes.queued;
  const perClient = n / clients;
  for (const jobs of [n, sizes.queueBaseline]) {
    if (jobs % clients !== 0) throw new BenchError("usage", `the queue figure needs multiples of ${String(clients)} jobs, not ${String(jobs)}`);
  }
  const owners = tls.users.map((u) => u.name);
  const deletions = Math.min(n / 2, sizes.getCalls);
  const args = [`--max-running=${String(slots)}`, "--standby=0", `--max-queued-per-user=${String(n)}`];
  const home = join(dir, "queue");
  await mkdir(home, { recursive: true, mode: 0o711 });
  context.progress(`queue: ${String(n)} jobs of ${String(owners.length)} users queued behind ${String(slots)} sleeping jobs`);
  const server = await startServerProcess({ dir: home, tls, args, profile: context.profile, nodeFlags: [inspectFlag] });
  let run;
  let profilePath: string | undefined;
  let watcher: ChildClient<FromWatcher, ToWatcher> | undefined;
  try {
    const admin = server.client();
    const blockers = await Promise.all(Array.from({ length: slots }, () => startJob(admin, sleeper)));
    const idleRss = (await readMemory(server.pid)).rssBytes;
    const inspector = await inspectorUrl(join(home, "server.log"));
    const idleCollected = await collectedMemory(inspector);
    const { pool } = userClients(server, context);
    const ids: string[][] = pool.map(() => []);
    // The first of each client's is untimed: its user's first job makes the user's account and home.
    const starts = await timedEach(pool, perClient, async (c) => {
      const { job } = await (pool[c] as JobClient).startJob({ program: "/bin/true" });
      if (job?.state !== JobState.QUEUED) throw new BenchError("workload", `a job was not queued: state ${String(job?.state)}`);
      (ids[c] as string[]).push(job.id);
    }, 1);
    const getsPerClient = Math.ceil(Math.min(n, sizes.getCalls) / clients);
    const gets = await timedEach(pool, getsPerClient, (c, i) => (pool[c] as JobClient).getJob({ id: (ids[c] as string[])[(i * 7919) % perClient] as string }));
    const queuedRss = (await readMemory(server.pid)).rssBytes;
    const queuedCollected = await collectedMemory(inspector);

    context.progress("queue: start-up with a copy of the queue, and with an empty data directory");
    const copy = await queueCopy(server, join(dir, "queue-copy"));
    const withQueue: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < 3; i++) {
      // Each start-up admits a few of the copy's jobs before it is closed; the copy stays nearly N long.
      const again = await startServerProcess({ dir: copy, tls, args });
      withQueue.push(again.startupMs);
      await again.close();
      const emptyDir = join(dir, `queue-empty-${String(i)}`);
      await mkdir(emptyDir, { recursive: true, mode: 0o711 });
      const bare = await startServerProcess({ dir: emptyDir, tls, args });
      empty.push(bare.startupMs);
      await bare.close();
    }

    context.progress(`queue: ${String(sizes.queueWatchers)} watchers; the ${String(n)} jobs drain through ${String(slots)} slots`);
    watcher = await attachWatchers(server, context, n / owners.length, n);
    const drained = watcher.next("drained");
    const cpuBefore = await readCpuSeconds(server.pid);
    const began = performance.now();
    watcher.send({ type: "sample" });
    await Promise.all(blockers.map((b) => admin.stopJob({ id: b.id })));
    await drained;
    const drainSeconds = (performance.now() - began) / 1000;
    const cpuSeconds = (await readCpuSeconds(server.pid)) - cpuBefore;

    // CPU per change delivered: deletions seen by every watcher, against as many with no watcher.
    const finished = ids.flat();
    const deleteSome = async (from: number): Promise<void> => {
      for (let i = from; i < from + deletions; i++) await admin.deleteJob({ id: finished[i] as string });
    };
    const seen = watcher.next("deleted");
    let cpu = await readCpuSeconds(server.pid);
    await deleteSome(0);
    watcher.send({ type: "deletes", count: deletions });
    await seen;
    const watchedDeletes = (await readCpuSeconds(server.pid)) - cpu;
    const watched = await detachWatchers(watcher, { created: 0, started: n, ended: n, deleted: deletions });
    watcher = undefined;
    cpu = await readCpuSeconds(server.pid);
    await deleteSome(deletions);
    const bareDeletes = (await readCpuSeconds(server.pid)) - cpu;
    run = { starts, gets, idleRss, queuedRss, idleCollected, queuedCollected, withQueue, empty, drainSeconds, cpuSeconds, watched, watchedDeletes, bareDeletes, dispatch: await dispatchTimes(server) };
  } finally {
    if (watcher !== undefined) watcher.child.kill();
    profilePath = await server.close();
  }

  context.progress(`queue: baseline, ${String(sizes.queueBaseline)} of the same jobs started back to back by ${String(clients)} clients without a queue`);
  const base = await backToBack(context, sizes.queueBaseline);

  const start = summarize(run.starts, "StartJob while queueing");
  const get = summarize(run.gets, "GetJob of a queued job");
  const up = summarize(run.withQueue, "start-up with the queue");
  const bare = summarize(run.empty, "start-up, empty");
  const dispatch = summarize(run.dispatch, "dispatch");
  const share = slots / owners.length;
  const { samples, windows, reports } = run.watched;
  const fairWindows = windows.filter((w) => w.every((c) => Math.abs(c - share) <= 1)).length;
  const worst = samples.reduce((most, s) => Math.max(most, ...s.map((r) => Math.abs(r - share))), 0);
  const fair = samples.filter((s) => s.every((r) => Math.abs(r - share) <= 1)).length;
  const rate = n / run.drainSeconds;
  const baseRate = sizes.queueBaseline / base.seconds;
  const watchers = reports.length;
  const changes = reports[0]?.changes ?? 0;
  const perEventUs = ((run.watchedDeletes - run.bareDeletes) / (deletions * watchers)) * 1e6;
  const rows: Row[] = [
    { metric: "StartJob while queueing, p50", unit: "ms", value: start.p50, baselines: [{ name: "GetJob of a queued job, same run", value: get.p50 }], target: { op: "<=", value: get.p50 + 1 } },
    { metric: "StartJob while queueing, p99", unit: "ms", value: start.p99, baselines: [{ name: "GetJob, p99", value: get.p99 }] },
    { metric: `server RSS with ${String(n)} queued`, unit: "MiB", value: mib(run.queuedRss), baselines: [{ name: "the same server before", value: mib(run.idleRss) }], target: { op: "<=", value: mib(run.idleRss) + 40 } },
    { metric: `server RSS with ${String(n)} queued, once collected`, unit: "MiB", value: mib(run.queuedCollected.rssBytes), baselines: [{ name: "the same server before, collected", value: mib(run.idleCollected.rssBytes) }], target: { op: "<=", value: mib(run.idleCollected.rssBytes) + 40 } },
    { metric: `live heap with ${String(n)} queued`, unit: "MiB", value: mib(run.queuedCollected.heapUsedBytes), baselines: [{ name: "the same server before", value: mib(run.idleCollected.heapUsedBytes) }] },
    { metric: "dispatch (a job's end to its successor's launch request), p50", unit: "ms", value: dispatch.p50, baselines: [], target: { op: "<=", value: 2 } },
    { metric: "dispatch, p99", unit: "ms", value: dispatch.p99, baselines: [], target: { op: "<=", value: 10 } },
    { metric: "throughput through the queue", unit: "jobs/s", value: rate, baselines: [{ name: "the same jobs back to back, no queue", value: baseRate }], target: { op: ">=", value: 0.95 * baseRate } },
    { metric: `fairness: samples with every user's running jobs within 1 of ${String(share)}`, unit: "%", value: samples.length === 0 ? Number.NaN : (100 * fair) / samples.length, baselines: [], target: { op: ">=", value: 100 } },
    { metric: `fairness of admissions: windows of ${String(slots)} consecutive starts with every user's within 1 of ${String(share)}`, unit: "%", value: windows.length === 0 ? Number.NaN : (100 * fairWindows) / windows.length, baselines: [], target: { op: ">=", value: 100 } },
    { metric: `spawn to listening with ${String(n)} queued, p50`, unit: "ms", value: up.p50, baselines: [{ name: "empty data directory", value: bare.p50 }], target: { op: "<=", value: 1500 } },
    { metric: `server CPU per change delivered to ${String(watchers)} watchers, per watcher`, unit: "us", value: perEventUs, baselines: [] },
    { metric: "server CPU per job, draining the queue", unit: "ms", value: (run.cpuSeconds / n) * 1000, baselines: [{ name: "back to back, no queue (StartJob included)", value: (base.cpuSeconds / sizes.queueBaseline) * 1000 }] },
  ];
  return {
    ...(profilePath === undefined ? {} : { profile: await summarizeProfile(profilePath) }),
    id: "queue",
    title: `8. The queue: ${String(n)} jobs of ${String(owners.length)} users through --max-running ${String(slots)}`,
    rows,
    notes: [
      `${String(n)} StartJob calls of /bin/true from ${String(clients)} concurrent clients (${owners.join(", ")}: ${String(n / owners.length)} each, two clients per user), each answered QUEUED behind ${String(slots)} sleeping jobs of the admin; then ${String(run.gets.length)} GetJob calls of queued jobs from the same clients. The first StartJob of each client (its user's account and home made) is untimed. StartJob p50/p99/max ${start.p50.toFixed(2)}/${start.p99.toFixed(2)}/${start.max.toFixed(1)} ms; GetJob ${get.p50.toFixed(2)}/${get.p99.toFixed(2)}/${get.max.toFixed(1)} ms.`,
      `RSS: /proc/PID/status VmRSS once the sleeping jobs run (before), and after the last StartJob and the GetJob calls, no GC forced; then, "once collected", after two full GCs asked through the server's inspector (node --inspect on loopback, for this figure only), with its heap used: ${((run.queuedCollected.heapUsedBytes - run.idleCollected.heapUsedBytes) / n / 1024).toFixed(2)} KiB of live heap per queued job. No watcher attached yet.`,
      `Dispatch: what the server logs for each admission a running job's end made room for, from the moment that end was recorded (its slot freed) to the successor's launch request (its account and spec resolved ahead, or else its request read back from state.db and validated again; its admission stored): ${String(dispatch.n)} admissions, p50/p99/max ${dispatch.p50.toFixed(3)}/${dispatch.p99.toFixed(3)}/${dispatch.max.toFixed(2)} ms.`,
      `Throughput: from the stop of the sleeping jobs until the first watcher saw the last job end, ${run.drainSeconds.toFixed(1)} s (${rate.toFixed(1)} jobs/s); baseline: ${String(sizes.queueBaseline)} of the same jobs, the same clients each starting its next job once its last ended (seen on a WatchJobs stream of the bench's), on a server without a running limit, with the same watchers attached, ${base.seconds.toFixed(1)} s (${baseRate.toFixed(1)} jobs/s). Both servers --standby 0: queued jobs start cold.`,
      `Fairness: ${String(samples.length)} samples (every 100 ms while all ${String(owners.length)} users had queued jobs, counted from the first watcher's changes); ${String(fair)} with every user within 1 of ${String(share)} running; the largest gap ${String(worst)}. A job counts as running from its "started" change (after its launch) to its "ended": a slot between a job's end and its successor's start (dispatch and launch, most of a /bin/true slot's time) counts for nobody. So also the order of admissions: of ${String(windows.length)} windows of ${String(slots)} consecutive starts (while all had queued jobs), ${String(fairWindows)} had every user's starts within 1 of ${String(share)}.`,
      `Watchers: ${String(watchers)} admin WatchJobs streams (all owners, no filter) from one client process over ${String(Math.ceil(watchers / watchersPerConnection))} connections (64 KiB HTTP/2 windows), attached before the drain and closed after ${String(deletions)} deletions: each received all ${String(changes)} changes, sequences consecutive, the same changes in the same order (SHA-256 of each stream), each job's started before its ended (checked on the first); in the baseline run likewise (${String(base.changes)} changes each). CPU per change and watcher: (server CPU for ${String(deletions)} DeleteJob calls with the watchers - for ${String(deletions)} more without) / (${String(deletions)} x ${String(watchers)}): ${(run.watchedDeletes * 1000).toFixed(0)} against ${(run.bareDeletes * 1000).toFixed(0)} ms. The watchers' own process used ${run.watched.cpuSeconds.toFixed(1)} s of CPU in the queue run, ${base.watcherCpuSeconds.toFixed(1)} s in the baseline's.`,
      `Server CPU while draining ${run.cpuSeconds.toFixed(1)} s; the baseline's whole run ${base.cpuSeconds.toFixed(1)} s.`,
      `Start-up: 3 of each, alternating; the queue's server starts on a copy of the queued jobs (state.db read with SQLite's backup while the first server held them; each start-up admits a few before it is closed). p50/max ${up.p50.toFixed(0)}/${up.max.toFixed(0)} ms, empty ${bare.p50.toFixed(0)}/${bare.max.toFixed(0)} ms.`,
    ],
  };
}

/**
 * The baseline: `n` /bin/true jobs, each client starting its next once its last ended, with the watchers attached;
 * the time, the server's CPU, the changes each watcher received (checked) and the watchers' CPU.
 */
async function backToBack(context: Context, n: number): Promise<{ seconds: number; cpuSeconds: number; changes: number; watcherCpuSeconds: number }> {
  const home = join(context.dir, "queue-baseline");
  await mkdir(home, { recursive: true, mode: 0o711 });
  const server = await startServerProcess({ dir: home, tls: context.tls, args: ["--standby=0"] });
  const abort = new AbortController();
  try {
    const live: JobState[] = [JobState.QUEUED, JobState.RUNNING];
    // Ends as one WatchJobs stream sees them (a job may end before its StartJob's answer arrives).
    const ended = new Set<string>();
    const waiting = new Map<string, () => void>();
    const watch = server.client();
    let positioned: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (positioned = resolve));
    const watching = (async () => {
      for await (const res of watch.watchJobs({ allOwners: true }, { signal: abort.signal })) {
        if (res.event.case === "position") positioned();
        else if (res.event.case === "change" && res.event.value.job !== undefined && !live.includes(res.event.value.job.state)) {
          const { id } = res.event.value.job;
          ended.add(id);
          waiting.get(id)?.();
        }
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) throw err;
    });
    await ready;
    const endOf = (id: string): Promise<void> => (ended.has(id) ? Promise.resolve() : new Promise((resolve) => waiting.set(id, resolve)));
    const watcher = await attachWatchers(server, context, 0, n);
    const { pool } = userClients(server, context);
    const cpuBefore = await readCpuSeconds(server.pid);
    const began = performance.now();
    await timedEach(pool, n / clients, async (c) => {
      const { job } = await (pool[c] as JobClient).startJob({ program: "/bin/true" });
      if (job === undefined || job.state === JobState.QUEUED) throw new BenchError("workload", "a baseline job was queued");
      await endOf(job.id);
    });
    const seconds = (performance.now() - began) / 1000;
    const cpuSeconds = (await readCpuSeconds(server.pid)) - cpuBefore;
    abort.abort();
    await watching;
    // Started at once: created running, never "started".
    const watched = await detachWatchers(watcher, { created: n, started: 0, ended: n, deleted: 0 });
    return { seconds, cpuSeconds, changes: watched.reports[0]?.changes ?? 0, watcherCpuSeconds: watched.cpuSeconds };
  } finally {
    abort.abort();
    await server.close();
  }
}
