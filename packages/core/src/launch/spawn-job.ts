// Starting a job's main process: through cgexec into its cgroup (none when the host has no cgroup v2), as its account.
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { cgexecPath } from "@jobexec/cgexec";
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
 * Spawns the job: `node cgexec --status-fd=3 [--uid=U --gid=G --groups=...] CGROUP PROGRAM ARGS` (`--no-cgroup`
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
  const child = spawn(process.execPath, [cgexecPath, "--status-fd=3", ...drop, ...where, ...argv], {
    stdio: ["ignore", req.stdoutFd, req.stderrFd, "pipe"],
    detached: true,
    env: req.baseEnv,
    cwd: req.cwd,
  });
  const status = child.stdio[3] as Readable | null;
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
