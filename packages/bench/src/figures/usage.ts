import { mkdir } from "node:fs/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ringCapacity, UsageRing } from "@jobexec/core";
import { JobState } from "@jobexec/proto";
import { withServer, type Context } from "../context.ts";
import { BenchError } from "../error.ts";
import { listAll, startJob, waitEnded } from "../jobs.ts";
import { readCpuSeconds } from "../proc.ts";
import type { Section } from "../result.ts";
import { startServerProcess, type ServerProcess } from "../server-process.ts";
import { summarize } from "../stats.ts";
import { sleeper, writeBytes } from "../workloads.ts";
import { fillStateFile } from "./startup.ts";

// The servers compared: sampling off, at the default interval, and at a short one that makes the cost measurable.
const intervals = [
  { name: "off", flag: "0", ms: 0 },
  { name: "default 5 s", flag: "5s", ms: 5000 },
  { name: "250 ms", flag: "250ms", ms: 250 },
] as const;
// Jobs are started this many at a time per server.
const width = 8;
// Start-ups timed for each state file, alternating.
const startupRuns = 3;

/**
 * Figure 7: what usage sampling costs. Three servers run at once, each with the same N running jobs (sleep 600):
 * sampling off, at the default 5 s, and every 250 ms; their CPU is read over the same window. The 250 ms server gives
 * the cost of one job's sample (its CPU above the off server's, per sample taken), from which the cost at the default
 * interval with 1000 jobs follows. Then the memory of a job's ring (in this process, full), and the start-up of a
 * server whose N finished records each hold a full timeline, against the same records without one.
 */
export async function usageFigure(context: Context): Promise<Section> {
  const { sizes, dir } = context;
  const n = sizes.usageJobs;
  const servers: ServerProcess[] = [];
  let cpu: number[];
  try {
    for (const interval of intervals) {
      const serverDir = join(dir, `usage-${interval.flag}`);
      await mkdir(serverDir, { recursive: true, mode: 0o711 });
      servers.push(await startServerProcess({ dir: serverDir, tls: context.tls, args: ["--usage-sample-interval", interval.flag, "--max-jobs-per-user", String(n + 1)] }));
    }
    context.progress(`usage: ${n} running jobs on each of ${servers.length} servers`);
    await Promise.all(
      servers.map(async (server) => {
        const client = server.client();
        let next = 0;
        await Promise.all(Array.from({ length: width }, async () => {
          while (next++ < n) await startJob(client, sleeper);
        }));
        const running = (await listAll(client, { states: [JobState.RUNNING] })).length;
        if (running !== n) throw new BenchError("workload", `${running} jobs running, not ${n}`);
      }),
    );
    // Past the starts (standby refills, first samples) before measuring.
    await sleep(2000);
    context.progress(`usage: the servers' CPU over ${sizes.usageSeconds} s`);
    const before = await Promise.all(servers.map((s) => readCpuSeconds(s.pid)));
    const began = performance.now();
    await sleep(sizes.usageSeconds * 1000);
    const after = await Promise.all(servers.map((s) => readCpuSeconds(s.pid)));
    const seconds = (performance.now() - began) / 1000;
    cpu = after.map((a, i) => ((a - (before[i] as number)) / seconds) * 100);
  } finally {
    // close() stops the jobs (default grace; sleep ends at SIGTERM) and removes the cgroups.
    await Promise.all(servers.map((s) => s.close()));
  }
  const [off = NaN, standard = NaN, fast = NaN] = cpu;
  // CPU of one job's sample: the fast server's extra CPU over the samples it took in a second.
  const perSampleUs = ((fast - off) / 100 / (n * (1000 / 250))) * 1e6;
  const at1000 = (perSampleUs / 1e6) * (1000 / 5) * 100;

  // A ring's memory: rings filled to capacity (what a job running past 20 minutes at 5 s holds), in this process.
  const rings: UsageRing[] = [];
  const gc = collector();
  gc();
  const heapBefore = process.memoryUsage();
  for (let i = 0; i < 1000; i++) {
    const ring = new UsageRing(0, 5000);
    for (let s = 1; s <= 2 * ringCapacity; s++) ring.push(s * 5000, 0.5, 1e8);
    rings.push(ring);
  }
  gc();
  const heapAfter = process.memoryUsage();
  const ringBytes = (heapAfter.heapUsed + heapAfter.arrayBuffers - heapBefore.heapUsed - heapBefore.arrayBuffers) / rings.length;
  const arrayBytes = rings[0]?.bytes ?? NaN;

  context.progress(`usage: start-up with ${sizes.records} finished records holding timelines, and without`);
  const { result: templateDir } = await withServer(context, "usage-startup-template", async (server) => {
    const client = server.client();
    for (let i = 0; i < 4; i++) await waitEnded(client, (await startJob(client, writeBytes(1024))).id);
    return server.dataDir;
  });
  const start = Date.parse("2026-12-01T00:00:00Z");
  const full = JSON.stringify({ intervalMs: 5000, samples: Array.from({ length: 120 }, (_, i) => ({ atMs: start + (i + 1) * 10_000, cpu: 0.4321, memoryBytes: 123_456_789 + i })) });
  await fillStateFile(templateDir, join(dir, "usage-startup-timelines"), sizes.records, (row) => ({ ...row, timeline: full }));
  await fillStateFile(templateDir, join(dir, "usage-startup-plain"), sizes.records, (row) => ({ ...row, timeline: null }));
  const startups: Record<string, number[]> = { "usage-startup-timelines": [], "usage-startup-plain": [] };
  for (let i = 0; i < startupRuns; i++) {
    for (const [name, samples] of Object.entries(startups)) {
      const server = await startServerProcess({ dir: join(dir, name), tls: context.tls });
      samples.push(server.startupMs);
      await server.close();
    }
  }
  const withTimelines = summarize(startups["usage-startup-timelines"] ?? [], "start-up with timelines");
  const plain = summarize(startups["usage-startup-plain"] ?? [], "start-up without timelines");

  return {
    id: "usage",
    title: `7. Usage sampling: ${n} running jobs (sleep 600) on each of three servers at once; ${sizes.records} records with timelines`,
    rows: [
      { metric: `server CPU, ${n} jobs, sampling every 5 s (default)`, unit: "% of a core", value: standard, baselines: [{ name: "sampling off", value: off }] },
      { metric: `server CPU, ${n} jobs, sampling every 250 ms`, unit: "% of a core", value: fast, baselines: [{ name: "sampling off", value: off }] },
      { metric: "CPU of one job's sample (cpu.stat + memory.current where present), from the 250 ms server", unit: "µs", value: perSampleUs, baselines: [] },
      { metric: "sampling 1000 jobs every 5 s, from that cost", unit: "% of a core", value: at1000, baselines: [], target: { op: "<=", value: 1 } },
      { metric: "memory of a full ring (one running job's samples)", unit: "B", value: ringBytes, baselines: [{ name: "its typed arrays alone", value: arrayBytes }] },
      {
        metric: `spawn to listening, ${sizes.records} records with 120-point timelines, p50`,
        unit: "ms",
        value: withTimelines.p50,
        baselines: [{ name: "the same records without timelines", value: plain.p50 }],
      },
    ],
    notes: [
      `The three servers ran side by side with their jobs over the same ${sizes.usageSeconds} s window: what the machine's load does to one it does to the others. CPU is utime + stime of the server process (/proc/PID/stat, 10 ms ticks): over the window the default interval's cost (6 samples of each job in 30 s) is near that resolution, which is why the per-sample cost is taken from the 250 ms server (${(sizes.usageSeconds * 4).toFixed(0)} samples of each job).`,
      `${n} jobs per server, not 1000: three servers with 1000 jobs each is 3000 cgexec starts on this 2-core machine; the cost per sample does not depend on the count (one timer, a loop over the jobs), so it is scaled to 1000 jobs.`,
      `This host's job cgroups have no controllers (hybrid hierarchy): a sample reads cpu.stat only. With the memory controller it reads memory.current too, about as cheap a file.`,
      `Ring: ${rings.length} rings of ${ringCapacity} points (full; a job that ran past 20 minutes at 5 s), heap + array buffers measured in this process after a forced GC; the server keeps one per running job with a cgroup, and none once the job ended.`,
      `Start-up: ${startupRuns} start-ups of each state file, alternating; p50/max with timelines ${withTimelines.p50.toFixed(0)}/${withTimelines.max.toFixed(0)} ms, without ${plain.p50.toFixed(0)}/${plain.max.toFixed(0)} ms. Each timeline is 120 points (${full.length} bytes of JSON).`,
    ],
  };
}

// The garbage collector, callable without starting node with --expose-gc (V8's flag set at run time, then gc taken
// from a fresh context, which is made with it).
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}
