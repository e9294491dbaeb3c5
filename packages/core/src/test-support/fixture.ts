// Shared by the integration tests: a manager on this host's real cgroup v2 hierarchy, and output helpers.
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { standbyPath } from "@jobexec/cgexec";
import { JobManager } from "../job-manager.ts";
import type { LogEvent, ManagerOptions, OutputChunk, OutputOptions } from "../types.ts";

/** A manager with a unique cgroup parent and a temporary dataDir, and the events it logged. */
export interface Fixture {
  manager: JobManager;
  dataDir: string;
  cgroupParent: string;
  logs: LogEvent[];
  /** Closes the manager and removes the dataDir. */
  close(): Promise<void>;
}

/** A unique cgroup parent name, so concurrent test processes never touch each other's jobs. */
export function uniqueParent(): string {
  return `jobexec-test-${randomUUID().slice(0, 13)}`;
}

/**
 * A fresh temp directory that jobs' accounts can reach: mkdtemp makes it 0700, which a dynamic uid cannot search.
 * 0711 (searchable, not listable) for a data directory; 0755 for one jobs read or list; 0777 for one they write.
 */
export async function reachableTempDir(prefix: string, mode = 0o711, base = tmpdir()): Promise<string> {
  const dir = await mkdtemp(join(base, prefix));
  await chmod(dir, mode);
  return dir;
}

/** `base` is where the data directory is made: a private /tmp hides one under /tmp from its jobs. */
export async function openFixture(options: Omit<ManagerOptions, "dataDir" | "cgroupParent" | "log"> = {}, base = tmpdir()): Promise<Fixture> {
  const dataDir = await reachableTempDir("jobexec-core-", 0o711, base);
  const cgroupParent = uniqueParent();
  const logs: LogEvent[] = [];
  const manager = await JobManager.create({ dataDir, cgroupParent, log: (e) => logs.push(e), ...options });
  return {
    manager,
    dataDir,
    cgroupParent,
    logs,
    async close() {
      await manager.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Everything an output iterable yields, per stream, checking offsets are contiguous. */
export async function collect(chunks: AsyncIterable<OutputChunk>): Promise<{ stdout: Buffer; stderr: Buffer; order: OutputChunk[] }> {
  const parts = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const order: OutputChunk[] = [];
  for await (const chunk of chunks) {
    parts[chunk.stream].push(Buffer.from(chunk.data));
    order.push(chunk);
  }
  return { stdout: Buffer.concat(parts.stdout), stderr: Buffer.concat(parts.stderr), order };
}

/** The job's output, followed to the end. */
export function followAll(manager: JobManager, id: string, options: OutputOptions = {}): ReturnType<typeof collect> {
  return collect(manager.output(id, { follow: true, ...options }));
}

/** Number of open file descriptors of this process, or of those open on files under `prefix`. */
export function openFds(prefix?: string): number {
  const fds = readdirSync("/proc/self/fd");
  if (prefix === undefined) return fds.length;
  let count = 0;
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(prefix)) count++;
    } catch {
      // closed meanwhile (e.g. the descriptor readdir itself used)
    }
  }
  return count;
}

/** Whether `pid` is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
    // The state follows the parenthesised command name.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Whether a cgroup directory exists. */
export function cgroupExists(dir: string | undefined): boolean {
  return dir !== undefined && existsSync(dir);
}

/** Resolves once the manager's standby pool is full and booted (so that no refill runs while a test counts). */
export async function standbysReady(manager: JobManager, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { target, idle, starting } = manager.standbys;
    if (idle === target && starting === 0) return;
    if (performance.now() > deadline) throw new Error(`the standby pool did not fill: ${JSON.stringify(manager.standbys)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The standbys of a manager whose job cgroups are under `parentDir`: the processes there still running cgexec's
 * standby entry (a taken one has exec'd its job's program), each with the cgroup it waits in.
 */
export function standbysIn(parentDir: string): { pid: number; cgroup: string }[] {
  const found: { pid: number; cgroup: string }[] = [];
  for (const entry of readdirSync(parentDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const cgroup = `${parentDir}/${entry.name}`;
    for (const pid of readFileSync(`${cgroup}/cgroup.procs`, "utf8").split("\n").filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${String(pid)}/cmdline`, "utf8").split("\0").includes(standbyPath)) found.push({ pid, cgroup });
      } catch {
        // exited meanwhile
      }
    }
  }
  return found;
}
