// Shared by the in-VM tests: a JobManager on the VM's cgroup v2 hierarchy, and ways to wait for a job.
import { randomUUID } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type Job, JobManager, type ManagerOptions } from "@jobexec/core";

/** Generous per-test limit: TCG runs several times slower than the host, and the host is busy. */
export const vmTestTimeout = 90_000;

/** A manager under a unique cgroup parent with a temporary dataDir. */
export interface ManagerFixture {
  manager: JobManager;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * Opens a manager; close() closes it and removes its dataDir. `base` is where the dataDir is made (a private /tmp
 * hides one under /tmp from its jobs), `options` more of the manager's options.
 */
export async function openManager(base = tmpdir(), options: Omit<ManagerOptions, "dataDir" | "cgroupParent"> = {}): Promise<ManagerFixture> {
  const dataDir = await mkdtemp(join(base, "jobexec-vm-"));
  // Jobs run as dynamic accounts, which pass through the data directory to their homes.
  await chmod(dataDir, 0o711);
  const manager = await JobManager.create({ dataDir, cgroupParent: `vmtest-${randomUUID().slice(0, 8)}`, ...options });
  return {
    manager,
    dataDir,
    async close() {
      await manager.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Waits for the job to end (its output followed to the end) and returns its final status and output. */
export async function finished(manager: JobManager, id: string): Promise<{ job: Job; stdout: string; stderr: string }> {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  for await (const chunk of manager.output(id, { follow: true })) parts[chunk.stream].push(Buffer.from(chunk.data));
  const job = await manager.get(id);
  return { job, stdout: Buffer.concat(parts.stdout).toString(), stderr: Buffer.concat(parts.stderr).toString() };
}

/** Seconds the job ran, from its start to its end as recorded by the manager. */
export function runSeconds(job: Job): number {
  if (!job.startedAt || !job.endedAt) throw new Error(`job ${job.id} has no start or end time`);
  return (job.endedAt.getTime() - job.startedAt.getTime()) / 1000;
}

/** "MAJ:MIN" of a whole disk as the kernel lists it, e.g. diskNumber("/dev/vda") -> "254:0". */
export function diskNumber(device: string): string {
  return readFileSync(`/sys/class/block/${device.replace(/^\/dev\//, "")}/dev`, "utf8").trim();
}

/** Pids of the live processes whose command line contains `needle`, anywhere on the machine. */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      if (cmdline.includes(needle) && state !== "Z") pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** The environment variable `name`, which the VM harness (or the native runner) must set. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through packages/testing-vm (pnpm test)`);
  return value;
}

/** Follows the job's stdout until it contains `text` (the job keeps running); returns what was read. */
export async function stdoutUntil(manager: JobManager, id: string, text: string): Promise<string> {
  const stop = new AbortController();
  let stdout = "";
  try {
    for await (const chunk of manager.output(id, { follow: true, stream: "stdout", signal: stop.signal })) {
      stdout += Buffer.from(chunk.data).toString();
      if (stdout.includes(text)) return stdout;
    }
  } finally {
    stop.abort();
  }
  throw new Error(`job ${id} ended without writing ${JSON.stringify(text)}: ${JSON.stringify(stdout)}`);
}

/** The pids listed in a cgroup's cgroup.procs. */
export function cgroupProcs(dir: string): number[] {
  return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
}

/** Polls `check` until it returns true; throws `message` after `timeoutMs`. */
/**
 * The processes of a job's cgroup but its monitor (cgexec-enter, as root: the parent of the job's program, which the
 * job library spawned, and which reaps what the job makes its child).
 */
export function jobProcs(dir: string): number[] {
  return cgroupProcs(dir).filter((pid) => {
    try {
      return readFileSync(`/proc/${String(pid)}/comm`, "utf8") !== "cgexec-enter\n";
    } catch {
      return false; // exited meanwhile
    }
  });
}

export async function eventually(check: () => boolean, message: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(message());
    await sleep(100);
  }
}
