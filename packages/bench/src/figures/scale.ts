import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Health, JobService, JobState } from "@jobexec/proto";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { listAll, startJob, type JobClient } from "../jobs.ts";
import { readCpuSeconds, readMemory } from "../proc.ts";
import type { ServerProcess } from "../server-process.ts";
import type { Section } from "../result.ts";
import { summarize, type Summary } from "../stats.ts";
import { sleeper } from "../workloads.ts";

// Jobs are started and stopped this many at a time, over this many connections.
const width = 8;
const connections = 4;

const mib = (bytes: number): number => bytes / 2 ** 20;
const kib = (bytes: number): number => bytes / 2 ** 10;
// Streams per connection the server allows (its default --max-streams-per-connection).
const streamsPerConnection = 100;

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
    const running = (await listAll(client, { states: [JobState.RUNNING] })).length;
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
    const left = (await listAll(client, { states: [JobState.RUNNING] })).length;
    if (left !== 0) throw new BenchError("workload", `${left} jobs still running after stopping all`);

    const extra = Math.max(0, sizes.finishedJobs - sizes.jobs);
    context.progress(`scale: ${extra} more jobs that exit at once, ${sizes.finishedJobs} finished jobs in all`);
    const finishBegan = performance.now();
    await inParallel(extra, async (i) => {
      await startJob(over(i), { program: "true", args: [] });
    });
    while ((await listAll(client, { states: [JobState.RUNNING] })).length > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    const finishAllMs = performance.now() - finishBegan;
    const finishedMemory = await readMemory(server.pid);
    context.progress(`scale: ListJobs pages over ${sizes.finishedJobs} finished jobs`);
    const firstPage = await latencies(sizes.listCalls, () => client.listJobs({}));
    const pages = await pageLatencies(client, sizes.listCalls);
    context.progress(`scale: ${sizes.idleConnections} idle connections, ${sizes.idleFollowers} idle followers`);
    const idle = await idleCosts(server, context, sizes.idleConnections, sizes.idleFollowers);
    return { idleMemory, idleCpu, oneGet, oneList, get, list, ping, busyMemory, loadedCpu, startAllMs, stopAllMs, finishAllMs, finishedMemory, firstPage, pages, idle };
  });

  const r = result;
  return {
    id: "scale",
    title: `5. Scale: ${sizes.jobs} concurrently running jobs (sleep 600), then ${sizes.finishedJobs} finished jobs; idle connections and followers`,
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
      { metric: `ListJobs p50 (first page, 100 of ${sizes.jobs} running)`, unit: "ms", value: r.list.p50, baselines: [{ name: "ListJobs, 1 job", value: r.oneList.p50 }] },
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
      {
        metric: `ListJobs p50, one page of 100, ${sizes.finishedJobs} finished jobs`,
        unit: "ms",
        value: r.pages.p50,
        baselines: [
          { name: "first page only", value: r.firstPage.p50 },
          { name: "ListJobs, 1 job", value: r.oneList.p50 },
        ],
      },
      {
        metric: "ListJobs p99, one page of 100",
        unit: "ms",
        value: r.pages.p99,
        baselines: [
          { name: "first page only", value: r.firstPage.p99 },
          { name: "ListJobs, 1 job", value: r.oneList.p99 },
        ],
        target: { op: "<=", value: 10 },
      },
      {
        metric: `server RSS, ${sizes.finishedJobs} finished jobs`,
        unit: "MiB",
        value: mib(r.finishedMemory.rssBytes),
        baselines: [
          { name: "server idle, no jobs", value: mib(r.idleMemory.rssBytes) },
          { name: `${sizes.jobs} running`, value: mib(r.busyMemory.rssBytes) },
        ],
      },
      { metric: `server RSS per idle connection (${sizes.idleConnections})`, unit: "KiB", value: kib(r.idle.perConnection), baselines: [] },
      { metric: `server RSS per idle follower (${sizes.idleFollowers})`, unit: "KiB", value: kib(r.idle.perFollower), baselines: [] },
    ],
    notes: [
      `Jobs started ${width} at a time over ${connections} connections; all ${sizes.jobs} started in ${(r.startAllMs / 1000).toFixed(1)} s and stopped (grace 0) in ${(r.stopAllMs / 1000).toFixed(1)} s; none left running (checked with ListJobs).`,
      `${sizes.getCalls} sequential GetJob calls over the running jobs, ${sizes.listCalls} ListJobs calls, ${sizes.getCalls} health checks, on one HTTP/2 connection.`,
      `Idle CPU: /proc/PID/stat utime+stime of the server over ${sizes.idleSeconds} s with no calls. Server VmHWM ${mib(r.busyMemory.peakBytes).toFixed(0)} MiB.`,
      `Finished jobs: the ${sizes.jobs} stopped ones and ${Math.max(0, sizes.finishedJobs - sizes.jobs)} jobs of \`true\` (started ${width} at a time in ${(r.finishAllMs / 1000).toFixed(1)} s). "One page" is every page of complete walks through the listing with page_size 100 (each continuing from the previous page's token), at least ${sizes.listCalls} pages; "first page only" repeats the first page ${sizes.listCalls} times.`,
      `Idle memory: VmRSS of the server before and after ${sizes.idleConnections} connections that each made one health check, then after ${sizes.idleFollowers} followers (${streamsPerConnection} per connection) of a job that wrote one line and sleeps, each having received that line; per item = the difference / the count (RSS is not returned to the OS at once, so each is measured against the state just before it).`,
    ],
    ...(profile === undefined ? {} : { profile }),
  };
}

/** Times single ListJobs pages, walking the whole listing from its first page as often as it takes for `count`. */
async function pageLatencies(client: JobClient, count: number): Promise<Summary> {
  const samples: number[] = [];
  while (samples.length < count) {
    let pageToken = "";
    do {
      const start = performance.now();
      const page = await client.listJobs({ pageSize: 100, pageToken });
      samples.push(performance.now() - start);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return summarize(samples, "page latency");
}

/** The server's RSS per idle connection, and per idle follower, each closed again afterwards. */
async function idleCosts(server: ServerProcess, context: Context, connections: number, followers: number): Promise<{ perConnection: number; perFollower: number }> {
  const { tls } = context;
  const managers: Http2SessionManager[] = [];
  const open = () => {
    const sessionManager = new Http2SessionManager(server.url, {}, { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey });
    managers.push(sessionManager);
    const transport = createGrpcTransport({ baseUrl: server.url, sessionManager });
    return { health: createClient(Health, transport), jobs: createClient(JobService, transport) };
  };
  const stop = new AbortController();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 500));
  try {
    await settle();
    const before = await readMemory(server.pid);
    await Promise.all(Array.from({ length: connections }, () => open().health.check({})));
    await settle();
    const withConnections = await readMemory(server.pid);
    const owner = open();
    const { job } = await owner.jobs.startJob({ program: "sh", args: ["-c", "echo ready; exec sleep 600"] });
    if (job === undefined) throw new BenchError("workload", "StartJob answered without a job");
    const followerClients = Array.from({ length: Math.ceil(followers / streamsPerConnection) }, () => open().jobs);
    await Promise.all(followerClients.map((c) => c.getJob({ id: job.id })));
    await settle();
    const beforeFollowers = await readMemory(server.pid);
    await Promise.all(
      Array.from({ length: followers }, async (_, i) => {
        const it = (followerClients[i % followerClients.length] as JobClient).streamOutput({ id: job.id, follow: true }, { signal: stop.signal })[Symbol.asyncIterator]();
        if ((await it.next()).done === true) throw new BenchError("workload", "a follower ended before its first line");
      }),
    );
    await settle();
    const withFollowers = await readMemory(server.pid);
    stop.abort();
    await owner.jobs.stopJob({ id: job.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    return {
      perConnection: (withConnections.rssBytes - before.rssBytes) / connections,
      perFollower: (withFollowers.rssBytes - beforeFollowers.rssBytes) / followers,
    };
  } finally {
    stop.abort();
    for (const manager of managers) manager.abort();
  }
}

/** The share of one core a process used over `seconds` (100 = one core busy). */
async function cpuOver(pid: number, seconds: number): Promise<number> {
  const before = await readCpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return ((await readCpuSeconds(pid)) - before) / seconds * 100;
}
