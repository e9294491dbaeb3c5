import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { JobState } from "@jobexec/proto";
import type { Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { startJob, type JobClient } from "../jobs.ts";
import { readMemory } from "../proc.ts";
import type { Section } from "../result.ts";
import { startServerProcess } from "../server-process.ts";
import { summarize } from "../stats.ts";
import { sleeper } from "../workloads.ts";

// Concurrent clients submitting, each on its own connection.
const clients = 8;

const mib = (bytes: number): number => bytes / 2 ** 20;

/** Times each call of `count` made by `clients` concurrent callers, `call(client, i)`. */
async function timedInParallel(pool: JobClient[], count: number, call: (client: JobClient, i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  await Promise.all(
    pool.map(async (client) => {
      while (next < count) {
        const i = next++;
        const began = performance.now();
        await call(client, i);
        samples.push(performance.now() - began);
      }
    }),
  );
  return samples;
}

/**
 * Figure 8: the queue. A server with `--max-running 1`, its one slot held by a sleeping job, takes N `/bin/true` jobs
 * from 8 concurrent clients: each StartJob answers QUEUED. Measured in the same run: StartJob while queueing against
 * GetJob of queued jobs (same server, same connections), the server's RSS with N queued against the same server idle
 * (before), and the start-up of a server on that data directory (spawn to listening, N queued jobs loaded and queued
 * again) against a server starting on an empty one.
 */
export async function queueFigure(context: Context): Promise<Section> {
  const { sizes, dir } = context;
  const n = sizes.queued;
  const args = ["--max-running=1", "--standby=0", `--max-queued-per-user=${String(n)}`];
  const home = join(dir, "queue");
  await mkdir(home, { recursive: true, mode: 0o711 });
  context.progress(`queue: ${n} jobs queued behind one running job`);
  const server = await startServerProcess({ dir: home, tls: context.tls, args });
  let starts: number[];
  let gets: number[];
  let idleRss: number;
  let queuedRss: number;
  try {
    const pool = Array.from({ length: clients }, () => server.client());
    await startJob(pool[0] as JobClient, sleeper);
    idleRss = (await readMemory(server.pid)).rssBytes;
    const ids: string[] = [];
    starts = await timedInParallel(pool, n, async (client) => {
      const { job } = await client.startJob({ program: "/bin/true" });
      if (job?.state !== JobState.QUEUED) throw new BenchError("workload", `a job was not queued: state ${String(job?.state)}`);
      ids.push(job.id);
    });
    gets = await timedInParallel(pool, Math.min(n, sizes.getCalls), (client, i) => client.getJob({ id: ids[(i * 7919) % ids.length] as string }));
    queuedRss = (await readMemory(server.pid)).rssBytes;
  } finally {
    // Its shutdown stops the sleeping job; the queued jobs stay queued in state.db.
    await server.close();
  }

  context.progress("queue: start-up with the queue, and with an empty data directory");
  const withQueue: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < 3; i++) {
    // Each start-up admits a job or two before it is closed; the queue stays nearly N long.
    const again = await startServerProcess({ dir: home, tls: context.tls, args });
    withQueue.push(again.startupMs);
    await again.close();
    const emptyDir = join(dir, `queue-empty-${String(i)}`);
    await mkdir(emptyDir, { recursive: true, mode: 0o711 });
    const bare = await startServerProcess({ dir: emptyDir, tls: context.tls, args });
    empty.push(bare.startupMs);
    await bare.close();
  }
  const start = summarize(starts, "StartJob while queueing");
  const get = summarize(gets, "GetJob of a queued job");
  const up = summarize(withQueue, "start-up with the queue");
  const bare = summarize(empty, "start-up, empty");
  return {
    id: "queue",
    title: `8. The queue: ${n} jobs queued behind --max-running 1`,
    rows: [
      { metric: "StartJob while queueing, p50", unit: "ms", value: start.p50, baselines: [{ name: "GetJob of a queued job, same run", value: get.p50 }], target: { op: "<=", value: get.p50 + 1 } },
      { metric: "StartJob while queueing, p99", unit: "ms", value: start.p99, baselines: [{ name: "GetJob, p99", value: get.p99 }] },
      { metric: `server RSS with ${n} queued`, unit: "MiB", value: mib(queuedRss), baselines: [{ name: "the same server before", value: mib(idleRss) }], target: { op: "<=", value: mib(idleRss) + 40 } },
      { metric: `spawn to listening with ${n} queued, p50`, unit: "ms", value: up.p50, baselines: [{ name: "empty data directory", value: bare.p50 }], target: { op: "<=", value: 1500 } },
    ],
    notes: [
      `${n} StartJob calls of /bin/true from ${clients} concurrent clients (one identity: the bench's admin certificate), each answered QUEUED; then ${gets.length} GetJob calls of queued jobs from the same clients. StartJob p50/p99/max ${start.p50.toFixed(2)}/${start.p99.toFixed(2)}/${start.max.toFixed(1)} ms; GetJob ${get.p50.toFixed(2)}/${get.p99.toFixed(2)}/${get.max.toFixed(1)} ms.`,
      "RSS: /proc/PID/status VmRSS once the sleeping job runs (before), and after the last StartJob and the GetJob calls.",
      `Start-up: 3 of each, alternating; the queue's server starts on the same data directory (the sleeping job was stopped at the first server's shutdown, so each start-up admits a /bin/true or two before it is closed). p50/max ${up.p50.toFixed(0)}/${up.max.toFixed(0)} ms, empty ${bare.p50.toFixed(0)}/${bare.max.toFixed(0)} ms.`,
      "Not measured here: dispatch latency, throughput through the queue, fairness sampling across 4 users and 100 watchers (they need thousands of real job starts; see the tests for fairness and WatchJobs order).",
    ],
  };
}
