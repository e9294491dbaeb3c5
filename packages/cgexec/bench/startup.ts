// Start-up cost of cgexec against a plain spawn of the same target, with Node flags that may cut it.
// Run: node bench/startup.ts [RUNS] [all|isolation]   (after `pnpm run build`; needs a cgroup v2 hierarchy, root)
// Without "all" only the plain spawn, cgexec and cgexec with a privilege drop run; "isolation" compares setpriv's drop
// with cgexec-isolate's drop alone, with each kind of isolation and with all three, and with the chain of util-linux
// tools (unshare, sh, mount, ip) the same steps would take without it.
// Prints p50/p90/p99/mean in milliseconds from spawn() to the exit event, variants interleaved
// round-robin so that the machine's load falls on all of them alike, and the mean CPU time (user +
// system) of the child, which a loaded machine disturbs far less than wall-clock time.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroup2Mount } from "../src/cgroup2-mount.ts";
import { cgexecPath, enterHelperPath } from "../src/index.ts";

interface Variant {
  readonly name: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** CPU time, in clock ticks (10 ms), of our waited-for children so far (cutime + cstime). */
function childTicks(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[13]) + Number(fields[14]);
}

/** Wall-clock milliseconds and CPU ticks of one run of `variant`. */
async function time(variant: Variant): Promise<[number, number]> {
  const ticks = childTicks();
  const start = performance.now();
  const child = spawn(variant.file, variant.args, { stdio: "ignore", env: variant.env ?? process.env });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${variant.name}: exit ${code}`);
  return [performance.now() - start, childTicks() - ticks];
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

const runs = Number(process.argv[2] ?? 100);
const node = process.execPath;
const target = "/bin/true";
const cgroup = join(cgroup2Mount() ?? "/sys/fs/cgroup", `jobexec-bench-cgexec-${randomUUID().slice(0, 8)}`);
const cacheDir = mkdtempSync(join(tmpdir(), "cgexec-compile-cache-"));
const cgexec = (...flags: string[]): readonly string[] => [...flags, cgexecPath, cgroup, target];
const snapshot = join(cacheDir, "trivial.blob");
const compileCache = { ...process.env, NODE_COMPILE_CACHE: cacheDir };

const variants: Variant[] = [
  { name: "spawn /bin/true", file: target, args: [] },
  { name: "node -e 0", file: node, args: ["-e", "0"] },
  { name: "node empty.mjs (ESM entry)", file: node, args: [join(cacheDir, "empty.mjs")] },
  { name: "node --snapshot-blob (trivial main)", file: node, args: ["--snapshot-blob", snapshot, "x"] },
  { name: "node cgexec --help (no exec)", file: node, args: [cgexecPath, "--help"] },
  { name: "cgexec CG /bin/true", file: node, args: cgexec() },
  { name: "cgexec --uid --gid CG /bin/true (drop)", file: node, args: [cgexecPath, "--uid=61184", "--gid=61184", cgroup, target] },
  { name: "setpriv --no-new-privs /bin/true", file: "/usr/bin/setpriv", args: ["--no-new-privs", "--", target] },
  { name: "  + NODE_COMPILE_CACHE", file: node, args: cgexec(), env: compileCache },
  { name: "  + --jitless", file: node, args: cgexec("--jitless") },
  { name: "  + --disable-warning=ExperimentalWarning", file: node, args: cgexec("--disable-warning=ExperimentalWarning") },
  { name: "  + --v8-pool-size=1", file: node, args: cgexec("--v8-pool-size=1") },
  { name: "  + --max-semi-space-size=1", file: node, args: cgexec("--max-semi-space-size=1") },
  { name: "  + --no-experimental-strip-types", file: node, args: cgexec("--no-experimental-strip-types") },
  { name: "  + --jitless --v8-pool-size=1", file: node, args: cgexec("--jitless", "--v8-pool-size=1") },
  { name: "  + NODE_COMPILE_CACHE --v8-pool-size=1", file: node, args: cgexec("--v8-pool-size=1"), env: compileCache },
];

// cgexec-enter from exec to the target, in cgexec's command-line form (options and argv as arguments, its own environment).
const workDir = mkdtempSync("/var/lib/cgexec-bench-");
chmodSync(workDir, 0o755);
const drop = ["--uid=65534", "--gid=65534", "--groups="];
const isolate = (name: string, ...flags: string[]): Variant => ({ name, file: enterHelperPath, args: [...flags, ...drop, `--cwd=${workDir}`, "--", target], env: {} });
const setprivDrop = ["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--", target];
const isolation: Variant[] = [
  { name: "setpriv drop /bin/true", file: "/usr/bin/setpriv", args: setprivDrop },
  isolate("cgexec-enter drop only"),
  isolate("cgexec-enter --network-none", "--network-none"),
  isolate("cgexec-enter --private-tmp=64MiB", "--private-tmp=67108864"),
  isolate("cgexec-enter --read-only", "--read-only", `--writable=${workDir}`),
  isolate("cgexec-enter all three", "--network-none", "--private-tmp=67108864", "--read-only", `--writable=${workDir}`),
  {
    name: "util-linux: unshare, sh, mount x2, ip, setpriv",
    file: "/usr/bin/unshare",
    args: ["--mount", "--net", "--propagation", "private", "--", "/bin/sh", "-c", 'mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs /tmp && mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs /var/tmp && ip link set lo up && exec setpriv "$@"', "sh", ...setprivDrop],
  },
];

// The drop's cost is what the job library pays per start; the Node flag variants are for exploring.
if (process.argv[3] === "isolation") variants.splice(0, variants.length, ...isolation);
else if (process.argv[3] !== "all") variants.splice(0, variants.length, ...variants.filter((v) => /^(spawn|cgexec|setpriv)/.test(v.name)));

mkdirSync(cgroup);
try {
  writeFileSync(join(cacheDir, "empty.mjs"), "");
  // A user-land start-up snapshot whose main does nothing: what the snapshot route costs at least.
  writeFileSync(join(cacheDir, "trivial.cjs"), 'require("node:v8").startupSnapshot.setDeserializeMainFunction(() => {});\n');
  execFileSync(node, ["--snapshot-blob", snapshot, "--build-snapshot", join(cacheDir, "trivial.cjs")]);
  const samples = variants.map((): number[] => []);
  const ticks = variants.map(() => 0);
  for (const variant of variants) await time(variant); // warm-up (fills the compile cache)
  for (let run = 0; run < runs; run++) {
    for (const [i, variant] of variants.entries()) {
      const [ms, cpu] = await time(variant);
      samples[i]?.push(ms);
      ticks[i] = (ticks[i] ?? 0) + cpu;
    }
  }
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`cgexec start-up, ${runs} runs each, ms from spawn() to exit (node ${process.version}, load ${load})`);
  console.log(`${"variant".padEnd(44)}${["p50", "p90", "p99", "mean", "cpu"].map((h) => h.padStart(8)).join("")}`);
  for (const [i, variant] of variants.entries()) {
    const sorted = (samples[i] ?? []).toSorted((a, b) => a - b);
    const mean = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
    const cpu = ((ticks[i] ?? 0) * 10) / runs;
    const figures = [quantile(sorted, 0.5), quantile(sorted, 0.9), quantile(sorted, 0.99), mean, cpu];
    console.log(`${variant.name.padEnd(44)}${figures.map((x) => x.toFixed(2).padStart(8)).join("")}`);
  }
} finally {
  rmdirSync(cgroup);
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
}
