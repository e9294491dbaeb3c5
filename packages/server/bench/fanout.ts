// Fan-out benchmark: N concurrent followers of one job over C client connections; prints figures, asserts nothing
// but byte-identical output. Run: node bench/fanout.ts [streams=2000] [connections=1] [lines=20000]
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { readOutput, startTestServer } from "../src/test-support/test-harness.ts";

const [streams = 2000, connections = 1, lines = 20000] = process.argv.slice(2).map(Number);
const t = await startTestServer();
try {
  const clients = Array.from({ length: connections }, () => t.jobs(t.pki.alice));
  const client = (i: number) => clients[i % clients.length] ?? t.jobs(t.pki.alice);
  const expected = execFileSync("seq", ["1", String(lines)]);
  const { job } = await client(0).startJob({ program: "/bin/sh", args: ["-c", `sleep 1; seq 1 ${lines}`] });
  if (!job) throw new Error("no job");
  const rss = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const began = performance.now();
  let maxFds = 0;
  const sampler = setInterval(() => (maxFds = Math.max(maxFds, readdirSync("/proc/self/fd").length)), 50);
  const outs = await Promise.all(Array.from({ length: streams }, (_, i) => readOutput(client(i).streamOutput({ id: job.id, follow: true }))));
  clearInterval(sampler);
  const ms = performance.now() - began;
  const used = process.cpuUsage(cpu);
  const identical = outs.every((o) => o.stdout.equals(expected) && o.last && o.job !== undefined);
  console.log(JSON.stringify({
    streams,
    connections,
    bytesPerStream: expected.length,
    identical,
    wallMs: Math.round(ms),
    cpuMs: Math.round((used.user + used.system) / 1000),
    mbPerSec: Number(((streams * expected.length) / 1e6 / (ms / 1000)).toFixed(1)),
    rssDeltaMb: Math.round((process.memoryUsage().rss - rss) / 1e6),
    maxOpenFds: maxFds,
  }));
} finally {
  await t.close();
}
