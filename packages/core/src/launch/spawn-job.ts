// Starting a job's main process cold: cgexec-enter, spawned directly, reads the job's spec on its standard input.
import { type ChildProcess, spawn } from "node:child_process";
import type { Duplex, Readable } from "node:stream";
import { encodeSpec, enterHelperPath, type EntrySpec, stdinSocket } from "@jobexec/cgexec";

/** What to run and where its output goes. */
export interface SpawnRequest {
  /** The job's spec: cgroup (absent to run unconfined), account (absent to keep the server's), cwd, argv, env, isolation. */
  spec: EntrySpec;
  stdoutFd: number;
  stderrFd: number;
}

/**
 * A spawned job: `child` is its monitor (cgexec-enter, which stays as the program's parent and ends as it ends),
 * `mainPid` resolves to the program's pid once the monitor reported it (undefined if it never did), `failure` to ""
 * once the program runs, else to the reason it did not.
 */
export interface Spawned {
  child: ChildProcess;
  mainPid: Promise<number | undefined>;
  failure: Promise<string>;
}

/** Everything a status pipe carries until it closes, trimmed: "" when it closed on the program's exec, else its failure line. */
export function readStatus(stream: Readable): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
    stream.on("error", () => resolve(Buffer.concat(chunks).toString("utf8").trim()));
  });
}

/** What a status pipe said: the program's pid (the monitor's "pid N" line), and the failure line ("" for none). */
export interface Status {
  pid: number | undefined;
  failure: string;
}

/** The status of `child` read from `socket`, or why there is none. */
export function statusOf(child: ChildProcess, socket: Duplex | null, what: string): Promise<Status> {
  return new Promise<Status>((resolve) => {
    child.once("error", (err) => resolve({ pid: undefined, failure: `cannot start ${what}: ${err.message}` }));
    if (socket === null) resolve({ pid: undefined, failure: `${what} has no status pipe` });
    else {
      void readStatus(socket).then((text) => {
        const pid = /^pid (\d+)(?:\n|$)/.exec(text);
        resolve(pid === null ? { pid: undefined, failure: text } : { pid: Number(pid[1]), failure: text.slice(pid[0].length).trim() });
      });
    }
  });
}

/** A spawned job whose status comes from `status`. */
export function spawned(child: ChildProcess, status: Promise<Status>): Spawned {
  return { child, mainPid: status.then((s) => s.pid), failure: status.then((s) => s.failure) };
}

/**
 * Spawns the job cold: `cgexec-enter --spec-on-stdin` (the job's monitor, the program's parent) in its own session, as root with an empty environment, stdout
 * and stderr straight onto the output files, and the spec written on its standard input (then its write side shut,
 * which is the spec's end). cgexec-enter sets no_new_privs, joins the cgroup, takes the isolation steps, drops to the
 * account, and executes the program with exactly the job's environment: neither the program's arguments nor its
 * environment ever appear on a command line, and no Node start-up is on the way.
 */
export function spawnJob(req: SpawnRequest): Spawned {
  const spec = encodeSpec(req.spec);
  const child = spawn(enterHelperPath, ["--spec-on-stdin"], {
    stdio: ["pipe", req.stdoutFd, req.stderrFd],
    detached: true,
    env: {},
    cwd: "/",
  });
  const socket = stdinSocket(child);
  socket?.end(spec);
  return spawned(child, statusOf(child, socket, "cgexec-enter"));
}
