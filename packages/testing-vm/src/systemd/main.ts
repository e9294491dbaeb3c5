/**
 * The systemd tier's entry point (`node src/systemd/main.ts`, run by `pnpm test` in this package after the VM tier).
 *
 * Builds the .deb twice (this version, and a higher one for the upgrade), boots a Debian root file system made by
 * debootstrap (cached in <repo>/.vm keyed by suite, mirror and packages) under qemu TCG with systemd as PID 1 on pure
 * cgroup v2, and runs src/systemd/*.systemdtest.ts in it: `apt install` of the package, then the service through its
 * real unit and real systemctl. Exits with their status.
 * Without root, qemu, a kernel, a static busybox, debootstrap or dpkg-deb it skips with one line and exits 0, except
 * in CI (CI set), where that is a failure. Its last line, for scripts/test.sh's totals:
 * `testing-vm: systemd tier: ran N tests ...`, `... skipped (why; how to run it)` or `... failed (why)`.
 * JOBEXEC_SYSTEMD_DEB_DIR: the packages are built there unless already there (by default, in a temporary directory).
 * Tuning: JOBEXEC_SYSTEMD_VM_TIMEOUT_S (hard limit, default 1800), JOBEXEC_VM_CPUS, JOBEXEC_VM_MEMORY_MIB,
 * JOBEXEC_VM_DEBIAN_SUITE and JOBEXEC_VM_DEBIAN_MIRROR (the root file system's inputs).
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { DebError, buildDeb, defaultVersion } from "@jobexec/deb";
import { findTool } from "../host-tools.ts";
import { findPrerequisites } from "../prerequisites.ts";
import { TestCount, numberFromEnv, say } from "../tier-report.ts";
import { VmError } from "../vm-error.ts";
import { debianRootfs, rootfsInputs } from "./debian-rootfs.ts";
import { runSystemdVm } from "./run-systemd-vm.ts";

const packageDir = resolve(import.meta.dirname, "../..");
const repoDir = resolve(packageDir, "../..");
const inCi = Boolean(process.env.CI) && process.env.CI !== "false";
const HINT = "run packages/testing-vm/install-deps.sh as root (qemu-system-x86, linux-image-amd64, busybox-static, e2fsprogs, debootstrap), then this as root";
/** The upgrade's package: the same files under a higher version. */
const UPGRADE_SUFFIX = "+systemdtest1";

function files(): string[] {
  const dir = join(packageDir, "src/systemd");
  return readdirSync(dir).filter((name) => name.endsWith(".systemdtest.ts")).sort().map((name) => join(dir, name));
}

function missing(): string[] {
  const what: string[] = [];
  if (process.getuid?.() !== 0) what.push("root (debootstrap and the root file system's image need it)");
  const prerequisites = findPrerequisites();
  if ("missing" in prerequisites) what.push(...prerequisites.missing);
  if (!findTool("debootstrap")) what.push("debootstrap");
  if (!findTool("dpkg-deb")) what.push("dpkg-deb");
  return what;
}

async function main(count: TestCount): Promise<number> {
  const lacking = missing();
  const inputs = rootfsInputs();
  if ("missing" in inputs) lacking.push(inputs.missing);
  const prerequisites = findPrerequisites();
  const debootstrap = findTool("debootstrap");
  if (lacking.length > 0 || "missing" in prerequisites || !debootstrap || "missing" in inputs) {
    if (inCi) {
      say(`systemd tier: failed (it cannot run in CI without ${lacking.join(", ")}; ${HINT})`);
      return 1;
    }
    say(`systemd tier: skipped (no ${lacking.join(", ")}; to run it, ${HINT})`);
    return 0;
  }
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), "jobexec-systemd-debs-"));
  const abort = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => abort.abort());
  try {
    const cacheDir = join(repoDir, ".vm");
    const rootfs = debianRootfs(debootstrap, inputs, cacheDir, say);
    const version = defaultVersion();
    // gzip: quicker to build, and to unpack under TCG, than xz.
    const debs = [];
    const given = process.env.JOBEXEC_SYSTEMD_DEB_DIR;
    for (const v of [version, `${version}${UPGRADE_SUFFIX}`]) {
      const built = given ? join(given, `jobexec_${v}_amd64.deb`) : undefined;
      debs.push(built && existsSync(built) ? built : await buildDeb({ outDir: given ?? work, version: v, compression: "gzip" }));
    }
    say(`${given ? "using" : "built"} ${debs.join(" and ")} (${((performance.now() - started) / 1000).toFixed(0)} s so far)`);
    const cpus = numberFromEnv("JOBEXEC_VM_CPUS", 2);
    say(`booting ${inputs.suite} with systemd on ${prerequisites.kernel.version} under qemu TCG (${cpus} vCPUs)`);
    const result = await runSystemdVm({
      prerequisites,
      rootfs,
      cacheDir,
      files: files(),
      cwd: packageDir,
      inputs: Object.fromEntries(debs.map((d) => [basename(d), d])),
      env: { JOBEXEC_DEB: basename(debs[0] as string), JOBEXEC_DEB_UPGRADE: basename(debs[1] as string) },
      timeoutMs: numberFromEnv("JOBEXEC_SYSTEMD_VM_TIMEOUT_S", 1800) * 1000,
      cpus,
      memoryMiB: numberFromEnv("JOBEXEC_VM_MEMORY_MIB", 2048),
      onLine: (line) => {
        process.stdout.write(`${line}\n`);
        count.see(line);
      },
      onReady: (seconds) => say(`systemd up after ${seconds.toFixed(1)} s, tests running`),
      signal: abort.signal,
    });
    say(`VM time ${result.vmSeconds.toFixed(1)} s (boot ${result.bootSeconds.toFixed(1)} s), tier ${((performance.now() - started) / 1000).toFixed(0)} s, tests exit ${result.exitCode}`);
    say(`systemd tier: ${count.summary("under systemd in the VM")}`);
    return result.exitCode;
  } catch (err) {
    if (!(err instanceof VmError) && !(err instanceof DebError)) throw err;
    say(`FAILED (${err.code}): ${err.message}`);
    say(`systemd tier: failed (${err.code}: ${count.summary("under systemd in the VM")} before that)`);
    return 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main(new TestCount());
