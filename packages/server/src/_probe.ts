import { startTestServer } from "./test-harness.ts";
const t = await startTestServer();
const alice = t.jobs(t.pki.alice);
const size = 64 * 1024 * 1024;
const { job } = await alice.startJob({ program: "head", args: ["-c", String(size), "/dev/zero"] });
for (let i = 0; i < 3; i++) {
  const t0 = performance.now(); const c0 = process.cpuUsage();
  let msgs = 0, bytes = 0, max = 0;
  for await (const m of alice.streamOutput({ id: job!.id, follow: true })) { msgs++; if (m.event.case === "chunk") { bytes += m.event.value.data.length; max = Math.max(max, m.event.value.data.length); } }
  const ms = performance.now() - t0; const c = process.cpuUsage(c0);
  console.log(`${bytes} bytes ${msgs} msgs max chunk ${max}: ${Math.round(ms)} ms, ${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s, cpu ${Math.round((c.user + c.system) / 1000)} ms`);
}
await t.close();
