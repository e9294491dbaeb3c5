import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initramfsFor } from "../initramfs.ts";
import type { Prerequisites } from "../prerequisites.ts";
import { type VmRunOptions, type VmRunResult, boot } from "../run-vm.ts";
import { VmError } from "../vm-error.ts";
import { HOST_ROOT_TAG, RUN_DIR_TAG } from "../vm-scripts.ts";
import { TEST_UNIT, VM_HOST_DIR, VM_RUN_DIR, systemdInitScript, systemdRunScript, testUnit } from "./systemd-scripts.ts";

/** The root disk: the root file system (about 250 MB), two installs of the .deb (about 150 MB each) and the jobs. */
const ROOT_DISK_BYTES = 2 * 1024 * 1024 * 1024;

/** How to run the systemd tier. */
export interface SystemdVmOptions extends Pick<VmRunOptions, "cpus" | "memoryMiB" | "timeoutMs" | "onLine" | "onReady" | "signal"> {
  prerequisites: Prerequisites;
  /** The root file system (debianRootfs()), copied into a fresh ext4 image for every run. */
  rootfs: string;
  /** Where the initramfs is kept between runs. */
  cacheDir: string;
  /** Test files, absolute paths on the host. */
  files: readonly string[];
  /** Working directory of the tests, on the host. */
  cwd: string;
  /** Files to hand to the tests (the .deb files): name in the VM's /vm-run -> path on the host. */
  inputs: Record<string, string>;
  /** Environment of the tests. */
  env: Record<string, string>;
}

/**
 * Boots the Debian root file system with systemd as PID 1 and runs the test files in it (through a unit, once
 * systemd is up), with the host's Node seen under /host. The root disk is a fresh image of `rootfs` each run,
 * removed afterwards with the rest of the run directory; qemu never outlives the call.
 */
export async function runSystemdVm(options: SystemdVmOptions): Promise<VmRunResult> {
  const { prerequisites: pre } = options;
  const runDir = await mkdtemp(join(tmpdir(), "jobexec-systemd-vm-"));
  try {
    const initramfs = initramfsFor(pre.kernel, pre.busybox, options.cacheDir, systemdInitScript(), "systemd-");
    const disk = join(runDir, "root.img");
    await writeFile(disk, "");
    await truncate(disk, ROOT_DISK_BYTES);
    try {
      // -d copies the tree in, owners, modes and device nodes included: no loop mount.
      execFileSync(pre.mkfsExt4, ["-q", "-F", "-d", options.rootfs, disk], { stdio: ["ignore", "ignore", "pipe"] });
    } catch (cause) {
      throw new VmError("build_failed", `mkfs.ext4 -d ${options.rootfs} ${disk} failed`, { cause });
    }
    for (const [name, path] of Object.entries(options.inputs)) execFileSync("cp", [path, join(runDir, name)]);
    const inVm = (path: string): string => `${VM_HOST_DIR}${path}`;
    await writeFile(join(runDir, TEST_UNIT), testUnit());
    await writeFile(
      join(runDir, "run.sh"),
      systemdRunScript({
        node: inVm(process.execPath),
        cwd: inVm(options.cwd),
        files: options.files.map(inVm),
        env: {
          JOBEXEC_SYSTEMD_VM: "1",
          JOBEXEC_VM_RUN_DIR: VM_RUN_DIR,
          ...(process.env.CI ? { CI: process.env.CI } : {}),
          ...(process.stdout.isTTY ? {} : { NO_COLOR: "1" }),
          ...options.env,
        },
      }),
    );
    const console = join(runDir, "console.log");
    const args = [
      ...["-accel", "tcg,thread=multi", "-cpu", "qemu64", "-smp", String(options.cpus), "-m", String(options.memoryMiB)],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-kernel", pre.kernel.image, "-initrd", initramfs],
      // systemd on the unified hierarchy only (pure cgroup v2); its status lines stay off the console.
      ...["-append", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init mitigations=off systemd.unified_cgroup_hierarchy=1 systemd.show_status=error"],
      ...["-serial", `file:${console}`, "-serial", "stdio"],
      ...["-virtfs", `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`],
      ...["-virtfs", `local,path=${runDir},mount_tag=${RUN_DIR_TAG},security_model=none,multidevs=remap`],
      ...["-drive", `file=${disk},format=raw,if=virtio,cache=unsafe`],
    ];
    return await boot(pre.qemu, args, options, console);
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}
