import { createClient } from "@connectrpc/connect";
import { Health, JobState } from "@jobexec/proto";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { startJob, type JobClient } from "../jobs.ts";
import { readCpuSeconds, readMemory } from "../proc.ts";
import type { Section } from "../result.ts";
import { summarize, type Summary } from "../stats.ts";
import { sleeper } from "../workloads.ts";

// Jobs are started and stopped this many at a time, over this many connections.
const width = 8;
const connections = 4;

const mib = (bytes: number): number => bytes / 2 ** 20;

/** Times `count` sequential calls. */
async function latencies(count: number, call: (i: number) => Promise<unknown>): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await call(i);
    samples.push(performance.now() - start);
  }
  return summarize(samples, "call latency");
}

/** Runs `body(i)` for i in 0..count-1 with at most `width` in flight. */
async function inParallel(count: number, body: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await body(next++);
    }),
  );
}

/**
 * Figure 5: N concurrently running jobs: GetJob and ListJobs latency, server memory, and the idle server's CPU with
 * those jobs running. Baselines on the same server and connection: the same calls with one running job, and the
 * health check (a round trip doing no work).
 */
export async function scaleFigure(context: Context): Promise<Section> {
  const { sizes } = context;
  const { result, profile } = await withServer(context, "scale", async (server) => {
    const client = server.client();
    const idleMemory = await readMemory(server.pid);
    const idleCpu = await cpuOver(server.pid, sizes.idleSeconds);

    const first = await startJob(client, sleeper);
    context.progress("scale: baselines with one running job");
    const oneGet = await latencies(sizes.getCalls, () => client.getJob({ id: first.id }));
    const oneList = await latencies(sizes.listCalls, () => client.listJobs({}));

    context.progress(`scale: starting ${sizes.jobs - 1} more jobs`);
    const ids = [first.id];
    const clients: JobClient[] = Array.from({ length: connections }, () => server.client());
    const over = (i: number): JobClient => clients[i % connections] ?? client;
    const startBegan = performance.now();
    await inParallel(sizes.jobs - 1, async (i) => {
      ids.push((await startJob(over(i), sleeper)).id);
    });
    const startAllMs = performance.now() - startBegan;
    const running = (await client.listJobs({ states: [JobState.RUNNING] })).jobs.length;
    if (running !== sizes.jobs) throw new BenchError("workload", `${running} jobs running, not ${sizes.jobs}`);

    context.progress(`scale: GetJob and ListJobs with ${sizes.jobs} running jobs`);
    const get = await latencies(sizes.getCalls, (i) => client.getJob({ id: ids[(i * 7919) % ids.length] ?? first.id }));
    const list = await latencies(sizes.listCalls, () => client.listJobs({}));
    const health = createClient(Health, server.transport());
    const ping = await latencies(sizes.getCalls, () => health.check({ service: "" }));
    const busyMemory = await readMemory(server.pid);
    context.progress(`scale: server CPU over ${sizes.idleSeconds} s with ${sizes.jobs} jobs and no calls`);
    const loadedCpu = await cpuOver(server.pid, sizes.idleSeconds);

    context.progress(`scale: stopping ${sizes.jobs} jobs`);
    const stopBegan = performance.now();
    await inParallel(ids.length, async (i) => {
      await over(i).stopJob({ id: ids[i], gracePeriod: { seconds: 0n, nanos: 0 } });
    });
    const stopAllMs = performance.now() - stopBegan;
    const left = (await client.listJobs({ states: [JobState.RUNNING] })).jobs.length;
    if (left !== 0) throw new BenchError("workload", `${left} jobs still running after stopping all`);
    return { idleMemory, idleCpu, oneGet, oneList, get, list, ping, busyMemory, loadedCpu, startAllMs, stopAllMs };
  });

  const r = result;
  return {
    id: "scale",
    title: `5. Scale: ${sizes.jobs} concurrently running jobs (sleep 600)`,
    rows: [
      {
        metric: "GetJob p50",
        unit: "ms",
        value: r.get.p50,
        baselines: [
          { name: "GetJob, 1 job", value: r.oneGet.p50 },
          { name: "health check", value: r.ping.p50 },
        ],
      },
      {
        metric: "GetJob p99",
        unit: "ms",
        value: r.get.p99,
        baselines: [
          { name: "GetJob, 1 job", value: r.oneGet.p99 },
          { name: "health check", value: r.ping.p99 },
        ],
        target: { op: "<=", value: 20 },
      },
      { metric: `ListJobs p50 (${sizes.jobs} jobs returned)`, unit: "ms", value: r.list.p50, baselines: [{ name: "ListJobs, 1 job", value: r.oneList.p50 }] },
      { metric: "ListJobs p99", unit: "ms", value: r.list.p99, baselines: [{ name: "ListJobs, 1 job", value: r.oneList.p99 }] },
      {
        metric: "server RSS",
        unit: "MiB",
        value: mib(r.busyMemory.rssBytes),
        baselines: [{ name: "server idle, no jobs", value: mib(r.idleMemory.rssBytes) }],
      },
      {
        metric: `server CPU while idle, ${sizes.jobs} jobs`,
        unit: "% of a core",
        value: r.loadedCpu,
        baselines: [{ name: "idle, no jobs", value: r.idleCpu }],
      },
    ],
    notes: [
      `Jobs started ${width} at a time over ${connections} connections; all ${sizes.jobs} started in ${(r.startAllMs / 1000).toFixed(1)} s and stopped (grace 0) in ${(r.stopAllMs / 1000).toFixed(1)} s; none left running (checked with ListJobs).`,
      `${sizes.getCalls} sequential GetJob calls over the running jobs, ${sizes.listCalls} ListJobs calls, ${sizes.getCalls} health checks, on one HTTP/2 connection.`,
      `Idle CPU: /proc/PID/stat utime+stime of the server over ${sizes.idleSeconds} s with no calls. Server VmHWM ${mib(r.busyMemory.peakBytes).toFixed(0)} MiB.`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
}

/** The share of one core a process used over `seconds` (100 = one core busy). */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const before = await readCpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return ((await readCpuSeconds(pid)) - before) / seconds * 100;
}
