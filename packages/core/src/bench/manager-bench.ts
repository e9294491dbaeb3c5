// Benchmark: start latency, and get()/list() with many running jobs. Prints figures; asserts nothing.
// Run: node src/bench/manager-bench.ts [JOBS]   (default 1000; needs root and cgroup v2)
import { rm } from "node:fs/promises";
import { JobManager } from "../index.ts";
import { reachableTempDir, uniqueParent } from "../test-support/fixture.ts";

function percentiles(name: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2);
  console.log(`${name}: n=${String(sorted.length)} p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
}

async function timed<T>(samples: number[], fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await fn();
  samples.push(performance.now() - started);
  return result;
}

const count = Number(process.argv[2] ?? 1000);
const dataDir = await reachableTempDir("jobexec-bench-");
const manager = await JobManager.create({ dataDir, cgroupParent: uniqueParent(), defaultGraceMs: 1000 });
try {
  const starts: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await timed(starts, () => manager.start({ program: "sleep", args: ["1000"] }, `owner-${String(i % 10)}`))).id);
  percentiles(`start (sleep 1000, sequential, ${String(count)} jobs)`, starts);
  const withEnv: number[] = [];
  for (let i = 0; i < 50; i++) {
    const job = await timed(withEnv, () => manager.start({ program: "true", env: { FOO: "bar" } }, "x"));
    ids.push(job.id);
  }
  percentiles("start with extra env (the spec on cgexec-enter's stdin)", withEnv);

  const gets: number[] = [];
  for (let i = 0; i < 2000; i++) await timed(gets, () => manager.get(ids[Math.floor(Math.random() * count)] as string));
  percentiles(`get() with ${String(count)} running jobs`, gets);
  const concurrentGets: number[] = [];
  await Promise.all(ids.slice(0, count).map((id) => timed(concurrentGets, () => manager.get(id))));
  percentiles(`get() of all ${String(count)} at once (latency each)`, concurrentGets);

  const lists: number[] = [];
  for (let i = 0; i < 50; i++) await timed(lists, () => manager.list());
  percentiles(`list() of ${String(count + 50)} jobs`, lists);
  const filtered: number[] = [];
  for (let i = 0; i < 50; i++) await timed(filtered, () => manager.list({ owner: "owner-3", states: ["running"] }));
  percentiles("list({ owner, states })", filtered);
} finally {
  const started = performance.now();
  await manager.close();
  console.log(`close() with ${String(count)} running jobs: ${(performance.now() - started).toFixed(0)} ms`);
  await rm(dataDir, { recursive: true, force: true });
}
