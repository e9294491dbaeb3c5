// Starting a job's main process: through cgexec into its cgroup (none when the host has no cgroup v2), as its account.
import { type ChildProcess, spawn } from "node:child_process";
import { Socket } from "node:net";
import type { Readable } from "node:stream";
import { cgexecPath, type Isolation } from "@jobexec/cgexec";
import { JobError } from "../job-error.ts";

/** What to run and where its output goes. */
export interface SpawnRequest {
  executable: string;
  args: string[];
  /** The job's complete environment. */
  env: Record<string, string>;
  /** The minimal environment the job's own variables were laid over (see {@link spawnJob}). */
  baseEnv: Record<string, string>;
  cwd: string;
  stdoutFd: number;
  stderrFd: number;
  /** The job's cgroup directory; absent to run unconfined. */
  cgroupDir?: string;
  /** The ids cgexec drops to after joining the cgroup; absent to keep the server's. */
  account?: { uid: number; gid: number; groups: readonly number[] };
  /** Namespaces and mounts cgexec takes after joining, before the drop; absent for none. */
  isolation?: Isolation;
}

/** cgexec's options for `isolation`. */
export function isolationOptions(isolation: Isolation | undefined): string[] {
  if (isolation === undefined) return [];
  const options = isolation.networkNone ? ["--network-none"] : [];
  if (isolation.privateTmpBytes !== undefined) options.push(`--private-tmp=${String(isolation.privateTmpBytes)}`);
  if (isolation.readOnly) options.push("--read-only", ...isolation.writable.map((dir) => `--writable=${dir}`));
  return options;
}

/** A spawned main process: `failure` resolves to "" once it runs the program, else to the reason it did not. */
export interface Spawned {
  child: ChildProcess;
  failure: Promise<string>;
}

// env(1) applies the job's own variables at the last moment: see spawnJob.
const envProgram = "/usr/bin/env";

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/**
 * The child's standard input pipe, read from this side: where an isolated job's status comes. Node marks every
 * descriptor above 2 close-on-exec in the child and offers no way to clear it, so only standard input can carry the
 * status from cgexec into cgexec-isolate; libuv's stdio pipes are socket pairs, and so both ways, but Node wraps the
 * child's stdin write-only: a second, readable socket on the same handle reads it. Null when there is no pipe.
 */
export function readableStdin(child: ChildProcess): Readable | null {
  const handle = (child.stdin as unknown as { _handle?: unknown } | null)?._handle;
  if (handle === undefined || handle === null) return null;
  return new Socket({ handle, readable: true, writable: false } as ConstructorParameters<typeof Socket>[0]);
}

/** Everything a status pipe carries until it closes, trimmed: "" when cgexec closed it on exec, else its failure line. */
export function readStatus(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
    stream.on("error", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
  });
}

/**
 * Spawns the job: `node cgexec --status-fd=3 [--uid=U --gid=G --groups=...] [isolation] CGROUP PROGRAM ARGS` (`--no-cgroup`
 * instead of CGROUP when unconfined) in its own session, stdout and stderr straight onto the output files. cgexec
 * joins the cgroup as root, drops to the account, and closes every other descriptor before its exec. cgexec is a
 * Node program, so variables of the job such as NODE_OPTIONS, NODE_* or LD_PRELOAD would act on cgexec itself:
 * cgexec therefore always runs with the base environment only, and when the job sets variables of its own, cgexec
 * executes `env -i -- NAME=VALUE... PROGRAM ARGS`, which replaces itself (same pid, same cgroup, same account)
 * with the program under exactly the job's environment.
 */
export function spawnJob(req: SpawnRequest): Spawned {
  let argv = [req.executable, ...req.args];
  if (!sameEnv(req.env, req.baseEnv)) {
    const assignments = Object.entries(req.env).map(([name, value]) => `${name}=${value}`);
    argv = [envProgram, "-i", "--", ...assignments, ...argv];
  }
  const { account } = req;
  const drop = account === undefined ? [] : [`--uid=${String(account.uid)}`, `--gid=${String(account.gid)}`, `--groups=${account.groups.join(",")}`];
  const where = req.cgroupDir === undefined ? ["--no-cgroup", "--"] : ["--", req.cgroupDir];
  // Node marks every descriptor above 2 close-on-exec: an isolated job's status goes on standard input, which
  // cgexec-isolate moves off before it becomes /dev/null.
  const statusFd = req.isolation === undefined ? 3 : 0;
  const stdio = statusFd === 0 ? (["pipe", req.stdoutFd, req.stderrFd] as const) : (["ignore", req.stdoutFd, req.stderrFd, "pipe"] as const);
  const child = spawn(process.execPath, [cgexecPath, `--status-fd=${String(statusFd)}`, ...drop, ...isolationOptions(req.isolation), ...where, ...argv], {
    stdio: [...stdio],
    detached: true,
    env: req.baseEnv,
    cwd: req.cwd,
  });
  const status = statusFd === 0 ? readableStdin(child) : (child.stdio[3] as Readable | null);
  const failure = new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(`cannot start cgexec: ${err.message}`));
    if (status === null) resolve("cgexec has no status pipe");
    else void readStatus(status).then(resolve);
  });
  return { child, failure };
}

/** Rejects an executable env(1) would mistake for a variable assignment (it contains "="), when env(1) is used. */
export function checkEnvProgram(executable: string, env: Record<string, string>, baseEnv: Record<string, string>): void {
  if (executable.includes("=") && !sameEnv(env, baseEnv)) {
    throw new JobError("invalid_argument", `program path ${JSON.stringify(executable)} contains "=", which cannot be run with extra environment variables`);
  }
}
