// Benchmark: wall time of CLI commands (start-up dominated) next to `node -e 0` measured in the same run, and the
// copy rate of `jobexec logs`, against a real server in this process. Prints figures; asserts nothing.
//
//   node bench/startup.ts [--runs N] [--quick] [--compare OTHER/bin/run.js] [--no-package]
//
// Runs are interleaved (one of each case per round), so that a change of load during the run hits every case alike.
// Each ratio is against `node -e 0` of the same Node in the same run. The npm package (build/pack.ts, of the current
// build) is installed with the system's npm and timed on the system's Node (JOBEXEC_SYSTEM_NODE, else /usr/bin/node)
// and on this one; --no-package leaves it out. --compare also times another build of the CLI (e.g. the main
// branch's checkout) in the same rounds.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { slowPath } from "@jobexec/testing-slow";
import { collectCli, runCli, startCliServer, startedId, type SpawnOptions } from "../src/testing/cli-fixture.ts";
import { installPackage, systemNode } from "../src/testing/npm-package.ts";

const { values } = parseArgs({ options: { runs: { type: "string" }, quick: { type: "boolean" }, compare: { type: "string" }, "no-package": { type: "boolean" } } });
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
  /** The label of the `node -e 0` case this one is compared with. */
  baseline: string;
  run: () => Promise<unknown>;
  times: number[];
}

const t = await startCliServer();
const packageDir = await mkdtemp(join(tmpdir(), "jobexec-bench-package-"));
try {
  const id = startedId(await runCli(t, ["start", "--", "true"]));
  const here = `node ${process.version}`;
  const builds: [string, SpawnOptions, string][] = [["jobexec", {}, here]];
  if (values.compare) builds.push(["compared", { cli: values.compare }, here]);
  const nodes: [string, string][] = [[here, process.execPath]];
  if (!values["no-package"] && existsSync(systemNode)) {
    const pkg = await installPackage(packageDir);
    const system = `node ${(await collectCli(spawn(systemNode, ["--version"]))).stdout.toString().trim()}`;
    if (system !== here) nodes.push([system, systemNode]);
    builds.push([`npm package, ${system}`, { cli: pkg.runJs, node: systemNode }, system]);
    if (system !== here) builds.push([`npm package, ${here}`, { cli: pkg.runJs }, here]);
  }
  const cases: Case[] = nodes.map(([label, node]) => ({
    label: `${label} -e 0 (baseline)`,
    baseline: `${label} -e 0 (baseline)`,
    run: () => collectCli(spawn(node, ["-e", "0"], { stdio: ["ignore", "pipe", "pipe"] })),
    times: [],
  }));
  // The floor Node sets: a plain node:tls + node:http2 GetJob (bench/floor-client.js), on this Node.
  const floor = new URL("floor-client.js", import.meta.url).pathname;
  const floorEnv = { ...process.env, JOBEXEC_CONFIG_DIR: t.configDir("alice"), JOBEXEC_SERVER: t.address, ID: id };
  cases.push({ label: "floor: node:tls + node:http2, one GetJob", baseline: cases[0]?.label ?? "", run: () => collectCli(spawn(process.execPath, [floor], { env: floorEnv, stdio: ["ignore", "pipe", "pipe"] })), times: [] });
  const oclifOnly = { JOBEXEC_NO_FAST_PATH: "1" };
  const noCache = { NODE_DISABLE_COMPILE_CACHE: "1" };
  for (const [name, options, node] of builds) {
    const baseline = `${node} -e 0 (baseline)`;
    const timed = (label: string, args: string[], env: Record<string, string> = {}): Case => ({ label: `${name}: ${label}`, baseline, run: () => runCli(t, args, { ...options, env }), times: [] });
    cases.push(timed("status ID", ["status", id]), timed("list", ["list"]), timed("start -- true", ["start", "--", "true"]), timed("--help", ["--help"]));
    if (name === "jobexec") cases.push(timed("status ID, oclif (JOBEXEC_NO_FAST_PATH=1)", ["status", id], oclifOnly), timed("status ID, no compile cache", ["status", id], noCache));
  }
  const loadBefore = load();
  const began = new Date().toISOString();
  // One warm-up round fills the compile cache. Runs are asynchronous: the server lives in this process.
  for (let round = -1; round < runs; round++) {
    for (const c of cases) {
      const start = performance.now();
      await c.run();
      if (round >= 0) c.times.push(performance.now() - start);
    }
  }
  const p50 = (label: string) => median(cases.find((c) => c.label === label)?.times ?? []);
  console.log(`${began}: load average before ${loadBefore}, after ${load()}; ${runs} interleaved runs of each`);
  for (const c of cases) {
    const value = median(c.times);
    console.log(`${c.label.padEnd(60)} p50 ${value.toFixed(1).padStart(6)} ms  min ${Math.min(...c.times).toFixed(1).padStart(6)} ms  ${(value / p50(c.baseline)).toFixed(2).padStart(5)}x`);
  }
  console.log("targets (x its Node's node -e 0): status <= 1.6, list <= 1.7, start -- true <= 1.8, --help <= 1.5");

  const size = values.quick ? 5_000_000 : 50_000_000;
  const big = startedId(await runCli(t, ["start", "--", process.execPath, slowPath, "--bytes", String(size)]));
  await runCli(t, ["logs", "-f", "--stream", "stderr", big]);
  const start = performance.now();
  const result = await runCli(t, ["logs", big]);
  const seconds = (performance.now() - start) / 1000;
  console.log(`jobexec logs of ${size / 1e6} MB: ${seconds.toFixed(2)} s, ${(size / 1e6 / seconds).toFixed(0)} MB/s including start-up (${result.stdout.length} bytes received)`);
} finally {
  await t.close();
  await rm(packageDir, { recursive: true, force: true });
}
