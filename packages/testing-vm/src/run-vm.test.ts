// The harness's failure paths with a real qemu: a VM that runs too long is killed, one that cannot boot
// is reported with its console, and neither leaves qemu or temporary files behind.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { findPrerequisites, type Prerequisites } from "./prerequisites.ts";
import { hostTmpEntries, runTestsInVm, type VmRunOptions } from "./run-vm.ts";
import { VmError } from "./vm-error.ts";

const prerequisites = findPrerequisites();
const inCi = Boolean(process.env.CI) && process.env.CI !== "false";

/** Run directories of the harness now in the temporary directory. */
async function runDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith("jobexec-vm-"));
}

/** Pids of qemu processes serving a run directory of this harness. */
function qemus(): string[] {
  try {
    return execFileSync("pgrep", ["-f", "mount_tag=vmrun"]).toString().trim().split("\n").filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe("VM harness failure paths", { skip: "missing" in prerequisites && !inCi ? "qemu, kernel or busybox missing" : false }, () => {
  let cacheDir: string;
  let base: Omit<VmRunOptions, "prerequisites" | "timeoutMs">;
  before(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), "testing-vm-cache-"));
    base = { files: ["none.vmtest.ts"], cwd: "/", cacheDir, cpus: 1, memoryMiB: 256, onLine: () => undefined };
  });
  after(() => rm(cacheDir, { recursive: true, force: true }));

  test("a VM past its time limit is killed and reported as a timeout", async () => {
    assert.ok(!("missing" in prerequisites), "the VM tier's prerequisites are installed");
    const before = await runDirs();
    const qemusBefore = qemus();
    const started = performance.now();
    await assert.rejects(runTestsInVm({ ...base, prerequisites, timeoutMs: 1500 }), (err) => err instanceof VmError && err.code === "timeout");
    assert.ok(performance.now() - started < 30_000, "killed promptly");
    assert.deepEqual(await runDirs(), before, "the run directory is removed");
    assert.deepEqual(qemus().filter((pid) => !qemusBefore.includes(pid)), [], "no qemu left");
  });

  test("a VM whose init cannot run is reported as a boot failure with its console", { timeout: 240_000 }, async () => {
    assert.ok(!("missing" in prerequisites), "the VM tier's prerequisites are installed");
    // A dynamically linked "busybox": the initramfs has no loader, so /init cannot start and the kernel panics.
    const broken: Prerequisites = { ...prerequisites, busybox: "/bin/true" };
    await assert.rejects(runTestsInVm({ ...base, prerequisites: broken, timeoutMs: 200_000 }), (err) => {
      assert.ok(err instanceof VmError);
      assert.equal(err.code, "boot_failed", err.message);
      assert.match(err.message, /VM console/);
      return true;
    });
  });
});

test("the host /tmp entries a run needs are those holding its paths, each once", () => {
  assert.equal(hostTmpEntries(["/tmp/fresh/packages/testing-vm", "/tmp/fresh/.tools/bin/node", "/work/x/node", "/tmp"]), "fresh\n");
  assert.equal(hostTmpEntries(["/work/main", "/usr/bin/node"]), "");
});
