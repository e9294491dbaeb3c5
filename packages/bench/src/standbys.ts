// A server's standbys, seen from outside: each waits in the cgroup made for its job, blocked reading its request.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BenchError } from "./error.ts";
import { blockedReading } from "./proc.ts";

/** The descriptor a standby reads its request from (core's launch/standby.ts). */
const requestFd = 4;

/** The pids in the cgroups under the server's job cgroup parent that wait on a request: its ready standbys. */
export async function readyStandbys(jobsCgroup: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir(jobsCgroup, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    let procs: string;
    try {
      procs = await readFile(join(jobsCgroup, entry.name, "cgroup.procs"), "utf8");
    } catch {
      continue; // a job's cgroup removed meanwhile
    }
    for (const pid of procs.split("\n").filter(Boolean).map(Number)) if (await blockedReading(pid, requestFd)) pids.push(pid);
  }
  return pids;
}

/** Resolves with the pids once `count` standbys (none of `not`) are ready: the pool is full and booted. */
export async function poolReady(jobsCgroup: string, count: number, not: readonly number[] = [], timeoutMs = 120_000): Promise<number[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const pids = (await readyStandbys(jobsCgroup)).filter((pid) => !not.includes(pid));
    if (pids.length >= count) return pids;
    if (performance.now() > deadline) throw new BenchError("server", `${count} standbys were not ready under ${jobsCgroup} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How many of `ids` the server's log says started from a standby. */
export function fromStandby(log: readonly Record<string, unknown>[], ids: readonly string[]): number {
  const wanted = new Set(ids);
  return log.filter((line) => typeof line.jobId === "string" && wanted.has(line.jobId) && String(line.msg).startsWith("job started from a standby")).length;
}
