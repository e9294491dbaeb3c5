// RPC latency benchmark over real mTLS gRPC on loopback: StartJob of `true`, StartJob-to-end-of-stream, GetJob,
// ListJobs and a health check, sequentially. Prints percentiles; asserts nothing. Run: node bench/rpc.ts [n=100]
import { readOutput, startTestServer } from "../src/test-support/test-harness.ts";

const n = Number(process.argv[2] ?? 100);
const t = await startTestServer();
try {
  const client = t.jobs(t.pki.alice);
  const health = t.health();
  await health.check({});
  const figures: Record<string, number[]> = { startJob: [], startToStreamEnd: [], getJob: [], listJobs: [], healthCheck: [] };
  const time = async (name: string, f: () => Promise<unknown>) => {
    const began = performance.now();
    const result = await f();
    figures[name]?.push(performance.now() - began);
    return result;
  };
  for (let i = 0; i < n; i++) {
    const { job } = await time("startJob", () => client.startJob({ program: "true" })) as Awaited<ReturnType<typeof client.startJob>>;
    if (!job) throw new Error("no job");
    await time("startToStreamEnd", async () => {
      const started = await client.startJob({ program: "echo", args: ["hi"] });
      await readOutput(client.streamOutput({ id: started.job?.id ?? "", follow: true }));
    });
    await time("getJob", () => client.getJob({ id: job.id }));
    await time("healthCheck", () => health.check({}));
  }
  for (let i = 0; i < Math.min(n, 20); i++) await time("listJobs", () => client.listJobs({}));
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
  for (const [name, xs] of Object.entries(figures)) {
    console.log(`${name.padEnd(18)} n=${String(xs.length).padEnd(4)} p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`);
  }
  console.log(`(listJobs lists ${2 * n} jobs)`);
} finally {
  await t.close();
}
