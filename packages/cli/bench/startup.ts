// Benchmark: wall time of CLI commands (start-up dominated) and the copy rate of `jobexec logs`, against a real
// server in this process. Prints figures; asserts nothing. Run: node bench/startup.ts [runs]
import { availableParallelism, loadavg } from "node:os";
import { slowPath } from "@jobexec/testing-slow";
import { runCli, startCliServer, startedId } from "../src/testing/cli-fixture.ts";

const runs = Number(process.argv[2] ?? 10);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timeRuns(label: string, run: () => Promise<unknown> | unknown): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  console.log(`${label.padEnd(44)} median ${median(times).toFixed(0).padStart(5)} ms  min ${Math.min(...times).toFixed(0).padStart(5)} ms  (${runs} runs)`);
}

const t = await startCliServer();
try {
  const id = startedId(await runCli(t, ["start", "--", "true"]));
  // Asynchronous runs only: the server lives in this process and must keep answering.
  const env = (cache: boolean): { env: Record<string, string> } => ({ env: cache ? {} : { NODE_DISABLE_COMPILE_CACHE: "1" } });
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}, ${availableParallelism()} CPUs`);
  for (const cache of [true, false]) {
    const note = cache ? "" : " (no compile cache)";
    await timeRuns(`jobexec --help${note}`, () => runCli(t, ["--help"], env(cache)));
    await timeRuns(`jobexec status ID${note}`, () => runCli(t, ["status", id], env(cache)));
  }
  await timeRuns("jobexec list", () => runCli(t, ["list"]));
  const size = 50_000_000;
  const big = startedId(await runCli(t, ["start", "--", process.execPath, slowPath, "--bytes", String(size)]));
  await runCli(t, ["logs", "-f", "--stream", "stderr", big]);
  const start = performance.now();
  const result = await runCli(t, ["logs", big]);
  const seconds = (performance.now() - start) / 1000;
  console.log(`jobexec logs of ${size / 1e6} MB: ${seconds.toFixed(2)} s, ${(size / 1e6 / seconds).toFixed(0)} MB/s including start-up (${result.stdout.length} bytes received)`);
} finally {
  await t.close();
}
