// Benchmark: wall time of CLI commands (start-up dominated) next to `node -e 0` measured in the same run, and the
// copy rate of `jobexec logs`, against a real server in this process. Prints figures; asserts nothing.
//
//   node bench/startup.ts [--runs N] [--quick] [--compare OTHER/bin/run.js]
//
// Runs are interleaved (one of each case per round), so that a change of load during the run hits every case alike.
// --compare also times another build of the CLI (e.g. the main branch's checkout) in the same rounds.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { slowPath } from "@jobexec/testing-slow";
import { collectCli, runCli, startCliServer, startedId } from "../src/testing/cli-fixture.ts";

const { values } = parseArgs({ options: { runs: { type: "string" }, quick: { type: "boolean" }, compare: { type: "string" } } });
const runs = Number(values.runs ?? (values.quick ? 5 : 30));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function load(): string {
  return loadavg().map((l) => l.toFixed(2)).join(" ");
}

interface Case {
  label: string;
  run: () => Promise<unknown>;
  times: number[];
}

const t = await startCliServer();
try {
  const id = startedId(await runCli(t, ["start", "--", "true"]));
  const builds: [string, string | undefined][] = [["jobexec", undefined]];
  if (values.compare) builds.push(["compared", values.compare]);
  const noCache = { NODE_DISABLE_COMPILE_CACHE: "1" };
  const cases: Case[] = [
    { label: "node -e 0 (baseline)", run: () => collectCli(spawn(process.execPath, ["-e", "0"], { stdio: ["ignore", "pipe", "pipe"] })), times: [] },
  ];
  for (const [name, cli] of builds) {
    cases.push(
      { label: `${name} --help`, run: () => runCli(t, ["--help"], { cli }), times: [] },
      { label: `${name} status ID`, run: () => runCli(t, ["status", id], { cli }), times: [] },
      { label: `${name} list`, run: () => runCli(t, ["list"], { cli }), times: [] },
      { label: `${name} status ID (no compile cache)`, run: () => runCli(t, ["status", id], { cli, env: noCache }), times: [] },
    );
  }
  const loadBefore = load();
  // One warm-up round fills the compile cache. Runs are asynchronous: the server lives in this process.
  for (let round = -1; round < runs; round++) {
    for (const c of cases) {
      const start = performance.now();
      await c.run();
      if (round >= 0) c.times.push(performance.now() - start);
    }
  }
  const baseline = median(cases[0]?.times ?? []);
  console.log(`load average before ${loadBefore}, after ${load()}; ${runs} interleaved runs of each`);
  for (const c of cases) {
    const p50 = median(c.times);
    console.log(`${c.label.padEnd(44)} p50 ${p50.toFixed(1).padStart(6)} ms  min ${Math.min(...c.times).toFixed(1).padStart(6)} ms  ${(p50 / baseline).toFixed(2).padStart(5)}x baseline`);
  }
  const p50 = (label: string) => median(cases.find((c) => c.label === label)?.times ?? []);
  console.log(`targets: jobexec status ID p50 <= 80 ms (${p50("jobexec status ID").toFixed(1)}), jobexec --help p50 <= 60 ms (${p50("jobexec --help").toFixed(1)}) and <= 3x baseline (${(p50("jobexec --help") / baseline).toFixed(2)}x), on a quiet machine`);

  const size = values.quick ? 5_000_000 : 50_000_000;
  const big = startedId(await runCli(t, ["start", "--", process.execPath, slowPath, "--bytes", String(size)]));
  await runCli(t, ["logs", "-f", "--stream", "stderr", big]);
  const start = performance.now();
  const result = await runCli(t, ["logs", big]);
  const seconds = (performance.now() - start) / 1000;
  console.log(`jobexec logs of ${size / 1e6} MB: ${seconds.toFixed(2)} s, ${(size / 1e6 / seconds).toFixed(0)} MB/s including start-up (${result.stdout.length} bytes received)`);
} finally {
  await t.close();
}
