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

/** A spawned main process: `failure` resolves to "" once it runs the program, else to the reason it did not. */
export interface Spawned {
  child: ChildProcess;
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

/** The status of `child` read from `socket`, or why there is none. */
export function statusOf(child: ChildProcess, socket: Duplex | null, what: string): Promise<string> {
  return new Promise<string>((resolve) => {
    child.once("error", (err) => resolve(`cannot start ${what}: ${err.message}`));
    if (socket === null) resolve(`${what} has no status pipe`);
    else void readStatus(socket).then(resolve);
  });
}

/**
 * Spawns the job cold: `cgexec-enter --spec-on-stdin` in its own session, as root with an empty environment, stdout
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
  return { child, failure: statusOf(child, socket, "cgexec-enter") };
}
