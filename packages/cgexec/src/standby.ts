#!/usr/bin/env node
// cgexec-standby --request-fd=M: a cgexec started ahead of its job. It boots (Node's start-up, the cost a job would
// otherwise wait for), reads its cgroup on M and moves into it, says it is ready, then blocks until it is told to go,
// and becomes the job through cgexec-enter, which reads the job's spec on standard input.
//
// Nothing about the job (not even its id, which names its cgroup) is on its command line: every user can read that.
import { CgexecError, checkEnterHelper, checkExecve, checkStatusFd, closeDescriptors, inheritableDescriptors, joinCgroup, parseFd, report } from "./cgexec.ts";

const { readSync, writeSync } = process.getBuiltinModule("node:fs");

/** The `--help` text of cgexec-standby. */
export const standbyUsage = `Usage: cgexec-standby --request-fd=M

A cgexec started ahead of its job, for a job library that keeps a few ready. Standard
input must be a socket: the job's spec comes on it, and the status goes back on it.
Once Node has started (its memory is charged to the cgroup it started in: it stays
there), it reads one line on M, the cgroup v2 directory its job will run in (empty for
none), joins it, closes every inherited descriptor but 0-2 and M, writes one byte on
M (ready), then reads M until end-of-file. A byte before end-of-file means go: it
executes cgexec-enter --spec-on-stdin, which reads the job's spec (what cgexec's
encodeSpec writes) on standard input, sets no_new_privs while still root, takes the
isolation steps, drops to the account and executes the program with exactly the
job's environment. Write the cgroup's limits before the go: they then hold from the
program's first instruction. End-of-file without a byte: exit 0, nothing run.

Failures are one line on standard input and the exit status: 125 (usage, the cgroup,
the account, the directory, an isolation step), 126 (COMMAND not executable), 127
(COMMAND not found).
`;

const synopsis = "usage: cgexec-standby --request-fd=M";

/** The options of cgexec-standby. */
export interface StandbyOptions {
  readonly help: boolean;
  readonly requestFd: number;
}

/** Parse cgexec-standby's arguments (without node and the script path). Throws CgexecError 125. */
export function parseStandbyOptions(args: readonly string[]): StandbyOptions {
  let requestFd: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-h" || arg === "--help") return { help: true, requestFd: 0 };
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (name === "--request-fd") requestFd = parseFd(inline ?? args[++i], "--request-fd");
    else throw new CgexecError(125, `unexpected argument ${JSON.stringify(arg)} (${synopsis})`);
  }
  if (requestFd === undefined) throw new CgexecError(125, `--request-fd is required (${synopsis})`);
  return { help: false, requestFd };
}

// A path is at most PATH_MAX bytes.
const maxLineBytes = 4096;

/** Reads `fd` (blocking: a standby has nothing else to do) up to a newline, or to end-of-file, or `limit` bytes. */
function readUntil(fd: number, stopAtNewline: boolean, limit: number): { text: string; ended: boolean } {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, one, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EINTR") continue;
      throw new CgexecError(125, `--request-fd=${fd}: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) return { text: Buffer.from(bytes).toString("utf8"), ended: true };
    if (stopAtNewline && one[0] === 0x0a) return { text: Buffer.from(bytes).toString("utf8"), ended: false };
    bytes.push(one[0] as number);
    if (bytes.length > limit) throw new CgexecError(125, `--request-fd=${fd}: more than ${String(limit)} bytes`);
  }
}

function main(args: readonly string[]): void {
  // Standard input is the status socket from the start.
  const statusFd = 0;
  try {
    const options = parseStandbyOptions(args);
    if (options.help) {
      writeSync(1, standbyUsage);
      return;
    }
    checkStatusFd(options.requestFd);
    const execve = checkExecve();
    const helper = checkEnterHelper();
    const cgroup = readUntil(options.requestFd, true, maxLineBytes);
    if (cgroup.ended) return; // the job library went away before it said where
    // Booted: what Node allocated to start stays charged where it was allocated, and from now on this process is
    // in its job's cgroup, so that no migration (which waits for an RCU grace period) lands on the job's start.
    if (cgroup.text !== "") joinCgroup(cgroup.text, process.pid);
    // Whatever the launcher leaked goes now (cgexec-enter also marks every descriptor above 2 close-on-exec).
    closeDescriptors(inheritableDescriptors().filter((fd) => fd !== options.requestFd));
    // process.execve loads its worker module on the call (~3 ms): load it now, off the job's path.
    process.getBuiltinModule("node:worker_threads");
    writeSync(options.requestFd, "\n");
    const go = readUntil(options.requestFd, false, 1);
    // The job library closed the pool (or went away): nothing to run.
    if (go.text === "") return;
    execve.call(process, helper, [helper, "--spec-on-stdin"], {});
  } catch (err) {
    report(err, statusFd);
  }
}

if (import.meta.main) main(process.argv.slice(2));
