/**
 * The VM test tier's entry point, run by `pnpm test` in this package.
 *
 * Runs the in-VM tests (src/vm/*.vmtest.ts, or the files given as arguments) where cgroup v2 limits
 * are really enforced, and exits with their status:
 * - JOBEXEC_VM_MODE=vm (default): inside a qemu VM (TCG) booted on the host's distribution kernel with
 *   the host's root shared read-only. Without qemu, a kernel or a static busybox it skips with one line
 *   and exits 0, except in CI (CI set), where that is a failure.
 * - JOBEXEC_VM_MODE=native: on this host directly, which must be pure cgroup v2 with the cpu, io,
 *   memory and pids controllers, as root. The IO tests need JOBEXEC_TEST_WHOLE_DISK(_DIR),
 *   JOBEXEC_TEST_PARTITION(_DIR) and JOBEXEC_TEST_PARTITION_DISK naming scratch block devices and where
 *   their filesystems are mounted (README.md).
 * Its last line says what happened, for scripts/test.sh's totals: `testing-vm: vm tier: ran N tests (...)` or
 * `testing-vm: vm tier: skipped (why; how to run it)` or `testing-vm: vm tier: failed (why)`.
 * Tuning: JOBEXEC_VM_TIMEOUT_S (hard limit, default 900), JOBEXEC_VM_CPUS (2), JOBEXEC_VM_MEMORY_MIB (2048),
 * JOBEXEC_VM_KERNEL and JOBEXEC_VM_BUSYBOX (paths).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import { nativeCgroupV2Missing } from "./native.ts";
import { INSTALL_HINT, findPrerequisites } from "./prerequisites.ts";
import { runTestsInVm } from "./run-vm.ts";
import { TestCount, numberFromEnv, say } from "./tier-report.ts";
import { VmError } from "./vm-error.ts";

const packageDir = resolve(import.meta.dirname, "..");
const repoDir = resolve(packageDir, "../..");
const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles();
const mode = process.env.JOBEXEC_VM_MODE ?? "vm";
const inCi = Boolean(process.env.CI) && process.env.CI !== "false";

function defaultFiles(): string[] {
  return readdirSync(join(packageDir, "src/vm"))
    .filter((name) => name.endsWith(".vmtest.ts"))
    .sort()
    .map((name) => join("src/vm", name));
}

/** Runs the in-VM test files on this host, echoing and counting their report. */
async function runNative(count: TestCount): Promise<number> {
  const child = spawn(process.execPath, ["--test", "--test-reporter=spec", ...files], { cwd: packageDir, stdio: ["ignore", "pipe", "inherit"] });
  for await (const line of createInterface({ input: child.stdout })) {
    process.stdout.write(`${line}\n`);
    count.see(line);
  }
  const [code] = (await once(child, "close")) as [number | null];
  return code ?? 1;
}

async function main(count: TestCount): Promise<number> {
  if (mode === "native") {
    const missing = nativeCgroupV2Missing();
    if (missing) {
      say(`vm tier: failed (JOBEXEC_VM_MODE=native needs ${missing})`);
      return 1;
    }
    const code = await runNative(count);
    say(`vm tier: ${count.summary("natively")}`);
    return code;
  }
  if (mode !== "vm") {
    say(`vm tier: failed (JOBEXEC_VM_MODE must be "vm" or "native", not "${mode}")`);
    return 1;
  }
  const prerequisites = findPrerequisites();
  if ("missing" in prerequisites) {
    const missing = prerequisites.missing.join(", ");
    if (inCi) {
      say(`vm tier: failed (it cannot run in CI without ${missing}; ${INSTALL_HINT})`);
      return 1;
    }
    say(`vm tier: skipped (no ${missing}; to run it, ${INSTALL_HINT})`);
    return 0;
  }
  const cpus = numberFromEnv("JOBEXEC_VM_CPUS", 2);
  say(`booting ${prerequisites.kernel.version} under qemu TCG (${cpus} vCPUs) for ${files.length} test files`);
  const abort = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abort.abort());
  try {
    const result = await runTestsInVm({
      prerequisites,
      files,
      cwd: packageDir,
      cacheDir: join(repoDir, ".vm"),
      timeoutMs: numberFromEnv("JOBEXEC_VM_TIMEOUT_S", 900) * 1000,
      cpus,
      memoryMiB: numberFromEnv("JOBEXEC_VM_MEMORY_MIB", 2048),
      onLine: (line) => {
        process.stdout.write(`${line}\n`);
        count.see(line);
      },
      onReady: (seconds) => say(`VM up after ${seconds.toFixed(1)} s, tests running`),
      signal: abort.signal,
    });
    say(`VM time ${result.vmSeconds.toFixed(1)} s (boot ${result.bootSeconds.toFixed(1)} s), tests exit ${result.exitCode}`);
    say(`vm tier: ${count.summary("in the VM")}`);
    return result.exitCode;
  } catch (err) {
    if (!(err instanceof VmError)) throw err;
    say(`FAILED (${err.code}): ${err.message}`);
    say(`vm tier: failed (${err.code}: ${count.summary("in the VM")} before that)`);
    return 1;
  }
}

process.exitCode = await main(new TestCount());
