import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDiskImages } from "./disk-images.ts";
import { initramfsFor } from "./initramfs.ts";
import type { Prerequisites } from "./prerequisites.ts";
import { VmError } from "./vm-error.ts";
import {
  BOOT_FAILED_MARKER,
  HOST_TMP_FILE,
  COMPILE_CACHE_TAG,
  EXIT_MARKER,
  HOST_ROOT_TAG,
  READY_MARKER,
  RUN_DIR_TAG,
  runScript,
} from "./vm-scripts.ts";

/** The environment that tells the tests inside the VM where its scratch disks are. */
export const vmDiskEnv = {
  JOBEXEC_TEST_WHOLE_DISK: "/dev/vda",
  JOBEXEC_TEST_WHOLE_DISK_DIR: "/tmp/disk-whole",
  JOBEXEC_TEST_PARTITION: "/dev/vdb1",
  JOBEXEC_TEST_PARTITION_DISK: "/dev/vdb",
  JOBEXEC_TEST_PARTITION_DIR: "/tmp/disk-part",
} as const;

/** How to run the tests in the VM. */
export interface VmRunOptions {
  prerequisites: Prerequisites;
  /** Test files, relative to cwd or absolute; cwd must be visible in the VM at the same path. */
  files: readonly string[];
  cwd: string;
  /** Where the initramfs and Node's compile cache are kept between runs. */
  cacheDir: string;
  /** Hard limit on the whole VM run, boot included: past it qemu is killed. */
  timeoutMs: number;
  cpus: number;
  memoryMiB: number;
  /** Extra environment of the tests. */
  env?: Record<string, string>;
  /** Receives each line the tests print, as they print it. */
  onLine: (line: string) => void;
  /** Called once the VM is up and the tests start, with the seconds that took. */
  onReady?: (bootSeconds: number) => void;
  /** Ends the run early, killing qemu (the host test run was interrupted). */
  signal?: AbortSignal;
}

/** How a VM run ended. */
export interface VmRunResult {
  /** The tests' exit status. */
  exitCode: number;
  /** Seconds from starting qemu to its end. */
  vmSeconds: number;
  /** Seconds from starting qemu to the start of the test run inside. */
  bootSeconds: number;
}

/**
 * Boots the VM and runs node:test on `files` inside it, with the same node binary as this process.
 * Throws a VmError "boot_failed" (with the console's last lines) when the tests never ran or the VM
 * ended without their exit status, and "timeout" when it ran past `timeoutMs`. Temporary files (run
 * script, disk images) are removed in every case, and qemu never outlives the call.
 */
export async function runTestsInVm(options: VmRunOptions): Promise<VmRunResult> {
  const { prerequisites: pre } = options;
  const runDir = await mkdtemp(join(tmpdir(), "jobexec-vm-"));
  try {
    const initramfs = initramfsFor(pre.kernel, pre.busybox, options.cacheDir);
    const disks = await createDiskImages(runDir, pre.mkfsExt4);
    const script = runScript({
      node: process.execPath,
      cwd: options.cwd,
      files: options.files,
      env: {
        JOBEXEC_VM: "1",
        ...vmDiskEnv,
        ...(process.env.CI ? { CI: process.env.CI } : {}),
        // The VM's console is a tty, so node would colour its report: only do so when the host's is one.
        ...(process.stdout.isTTY ? {} : { NO_COLOR: "1" }),
        ...options.env,
      },
    });
    await writeFile(join(runDir, "run.sh"), script);
    await writeFile(join(runDir, HOST_TMP_FILE), hostTmpEntries([options.cwd, process.execPath, realpathSync(process.execPath)]));
    const compileCache = join(options.cacheDir, "node-compile-cache");
    await mkdir(compileCache, { recursive: true });
    const console = join(runDir, "console.log");
    const args = [
      ...["-accel", "tcg,thread=multi", "-cpu", "qemu64", "-smp", String(options.cpus), "-m", String(options.memoryMiB)],
      ...["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"],
      ...["-kernel", pre.kernel.image, "-initrd", initramfs],
      // quiet console: the kernel still logs OOM kills and errors there, into console.log. No speculation
      // mitigations: under TCG they only cost time, and the VM runs nothing untrusted.
      ...["-append", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init mitigations=off"],
      ...["-serial", `file:${console}`, "-serial", "stdio"],
      ...["-virtfs", `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`],
      ...["-virtfs", `local,path=${runDir},mount_tag=${RUN_DIR_TAG},security_model=none,multidevs=remap`],
      ...["-virtfs", `local,path=${compileCache},mount_tag=${COMPILE_CACHE_TAG},security_model=none,multidevs=remap`],
      ...["-drive", `file=${disks.whole},format=raw,if=virtio,cache=unsafe`],
      ...["-drive", `file=${disks.partitioned},format=raw,if=virtio,cache=unsafe`],
    ];
    return await boot(pre.qemu, args, options, console);
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/**
 * Runs qemu with `args` until it ends: the lines of its standard output (the VM's test console) go to `onLine`, but
 * for the markers of vm-scripts.ts (ready, exit status, boot failure). Throws a VmError as {@link runTestsInVm} says.
 */
export async function boot(
  qemu: string,
  args: string[],
  options: Pick<VmRunOptions, "timeoutMs" | "onLine" | "onReady" | "signal">,
  consoleLog: string,
): Promise<VmRunResult> {
  const started = performance.now();
  const child = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
  let timedOut = false;
  const kill = (): void => {
    child.kill("SIGKILL");
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  options.signal?.addEventListener("abort", kill, { once: true });

  let bootSeconds: number | undefined;
  let exitCode: number | undefined;
  let bootFailure: string | undefined;
  let pending = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const raw of lines) {
      const line = raw.replace(/\r$/, "");
      if (line === READY_MARKER) {
        bootSeconds = (performance.now() - started) / 1000;
        options.onReady?.(bootSeconds);
      }
      else if (line.startsWith(`${EXIT_MARKER} `)) exitCode = Number(line.slice(EXIT_MARKER.length + 1));
      else if (line.startsWith(`${BOOT_FAILED_MARKER} `)) bootFailure = line.slice(BOOT_FAILED_MARKER.length + 1);
      else options.onLine(line);
    }
  });
  try {
    const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    const vmSeconds = (performance.now() - started) / 1000;
    if (timedOut) {
      throw new VmError("timeout", `the VM ran past ${options.timeoutMs / 1000} s and was killed${await tail(consoleLog)}`);
    }
    if (exitCode === undefined || bootSeconds === undefined || !Number.isInteger(exitCode)) {
      const why = bootFailure ?? `qemu ended (${signal ?? `exit ${code}`}) without the tests' exit status`;
      throw new VmError("boot_failed", `${why}${stderr ? `\nqemu: ${stderr.trim()}` : ""}${await tail(consoleLog)}`);
    }
    return { exitCode, vmSeconds, bootSeconds };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", kill);
    if (child.exitCode === null && child.signalCode === null) kill();
  }
}

/** The console's last lines, to say why a VM failed. */
async function tail(consoleLog: string): Promise<string> {
  const text = await readFile(consoleLog, "utf8").catch(() => "");
  const lines = text.split("\n").slice(-40).join("\n").trim();
  return lines ? `\n--- VM console (last lines) ---\n${lines}` : "";
}

/** The entries of the host's /tmp that hold any of `paths`, one a line: the VM binds them over its own /tmp. */
export function hostTmpEntries(paths: readonly string[]): string {
  const entries = new Set(paths.map((p) => /^\/tmp\/([^/]+)/.exec(p)?.[1]).filter((e) => e !== undefined));
  return [...entries].map((e) => `${e}\n`).join("");
}
