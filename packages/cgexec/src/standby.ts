#!/usr/bin/env node
// cgexec-standby --status-fd=N --request-fd=M [--cgroup=DIR]: a cgexec started ahead of its job. It boots
// (Node's start-up, the cost a job would otherwise wait for), moves into the job's cgroup, says it is ready,
// then blocks reading one request, and becomes that job through the very steps a cold cgexec takes
// (enterJob).
//
// Its own start-up is off the job's path, so it may load a second module; what it runs at take time is
// the same code as cgexec's.
import {
  type Account,
  CgexecError,
  checkExecve,
  checkStatusFd,
  closeDescriptors,
  enterJob,
  findCommand,
  inheritableDescriptors,
  type Isolation,
  isolateOptions,
  joinCgroup,
  maxId,
  parseFd,
  planExec,
  report,
} from "./cgexec.ts";

const { readFileSync, readSync, writeSync } = process.getBuiltinModule("node:fs");

/** The one request a standby reads: everything about the job that a cold cgexec gets from its command line and spawn. */
export interface StandbyRequest {
  /** The account to drop to; null to keep root. Needs a standby started under no_new_privs. */
  readonly account: Account | null;
  /** The working directory, entered as the account. */
  readonly cwd: string;
  /** COMMAND and its ARGS, verbatim (argv[0] included); COMMAND is looked up on `env.PATH` like execvp does. */
  readonly argv: readonly [string, ...string[]];
  /** The job's whole environment: the program gets exactly this. */
  readonly env: Readonly<Record<string, string>>;
  /** Namespaces and mounts the job gets (through cgexec-isolate, as a cold cgexec does); absent or null for none. */
  readonly isolation?: Isolation | null;
}

/** The `--help` text of cgexec-standby. */
export const standbyUsage = `Usage: cgexec-standby --status-fd=N --request-fd=M [--cgroup=DIR]

N is 0 (standard input, which becomes /dev/null) for a standby of isolated jobs, which
become their job through cgexec-isolate; else N >= 3.

A cgexec started ahead of its job, for a job library that keeps a few ready. Once Node
has started (its memory is charged to the cgroup it started in: it stays there), it
joins DIR, the cgroup v2 directory its job will run in, closes every inherited
descriptor but 0-2, N and M, writes one byte on M (ready), then reads one request from
M until end-of-file: JSON
  {"account": {"uid": U, "gid": G, "groups": [...]}|null, "cwd": DIR,
   "argv": [COMMAND, ARGS...], "env": {"NAME": "VALUE", ...},
   "isolation": {"networkNone": B, "privateTmpBytes": N|null, "readOnly": B,
                 "writable": [DIR, ...]}|null (optional)}
and becomes that job as cgexec would: drop to the account, change to cwd, look COMMAND
up on env's PATH as the account, close every descriptor but 0-2 (N last), and execve
COMMAND with exactly env. Write DIR's limits before the request: they then hold from
COMMAND's first instruction. With an account it must run under no_new_privs already
(start it as: setpriv --no-new-privs -- node cgexec-standby ...), which the program
inherits. End-of-file before any request: exit 0, nothing run.

Failures are one line on N and the exit status: 125 (usage, a bad request, the cgroup,
the account, the directory), 126 (COMMAND not executable), 127 (COMMAND not found).
`;

const synopsis = "usage: cgexec-standby --status-fd=N --request-fd=M [--cgroup=DIR]";

/** The options of cgexec-standby. */
export interface StandbyOptions {
  readonly help: boolean;
  readonly statusFd: number;
  readonly requestFd: number;
  /** The job's cgroup v2 directory, joined once booted; undefined to join none. */
  readonly cgroupDir: string | undefined;
}

/** Parse cgexec-standby's arguments (without node and the script path). Throws CgexecError 125. */
export function parseStandbyOptions(args: readonly string[]): StandbyOptions {
  let statusFd: number | undefined;
  let requestFd: number | undefined;
  let cgroupDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-h" || arg === "--help") return { help: true, statusFd: 0, requestFd: 0, cgroupDir: undefined };
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (name === "--status-fd") statusFd = parseFd(value(), "--status-fd", 0);
    else if (name === "--request-fd") requestFd = parseFd(value(), "--request-fd");
    else if (name === "--cgroup") {
      cgroupDir = value();
      if (cgroupDir === undefined || cgroupDir === "") throw new CgexecError(125, `--cgroup needs a cgroup directory (${synopsis})`);
    } else throw new CgexecError(125, `unexpected argument ${JSON.stringify(arg)} (${synopsis})`);
  }
  if (statusFd === undefined || requestFd === undefined) throw new CgexecError(125, `--status-fd and --request-fd are required (${synopsis})`);
  if (statusFd > 0 && statusFd < 3) throw new CgexecError(125, `--status-fd must be 0 (for isolated jobs) or >= 3, got ${String(statusFd)}`);
  if (statusFd === requestFd) throw new CgexecError(125, `--status-fd and --request-fd must differ (${synopsis})`);
  return { help: false, statusFd, requestFd, cgroupDir };
}

// A request is a few kilobytes; far more means something other than the job library is writing.
const maxRequestBytes = 16 * 1024 * 1024;

/** Everything on `fd` up to end-of-file (blocking: a standby has nothing else to do); empty when the writer went away. */
function readToEnd(fd: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buffer, 0, buffer.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EINTR") continue;
      // EAGAIN included: a non-blocking descriptor would make this a busy loop.
      throw new CgexecError(125, `--request-fd=${fd}: reading the request: ${(err as Error).message}`, { cause: err });
    }
    if (n === 0) return Buffer.concat(chunks, total);
    total += n;
    if (total > maxRequestBytes) throw new CgexecError(125, `the request is larger than ${maxRequestBytes} bytes`);
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
}

function bad(what: string): never {
  throw new CgexecError(125, `bad request: ${what}`);
}

const isString = (value: unknown): value is string => typeof value === "string" && !value.includes("\0");
const isId = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= maxId;

/** Parse and check a request, so that a malformed one is a 125 failure and never half a job. */
export function parseRequest(text: string): StandbyRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CgexecError(125, `bad request: not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad("not an object");
  const { account, cwd, argv, env, isolation } = value as Record<string, unknown>;
  if (!(isString(cwd) && cwd.startsWith("/"))) bad("cwd must be an absolute path");
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every(isString)) bad("argv must be a non-empty array of strings");
  if (typeof env !== "object" || env === null || Array.isArray(env)) bad("env must be an object of strings");
  for (const [name, text] of Object.entries(env)) {
    if (name === "" || name.includes("=") || !isString(name) || !isString(text)) bad(`env ${JSON.stringify(name)}`);
  }
  let checked: Account | null = null;
  if (account !== null) {
    if (typeof account !== "object" || account === undefined) bad("account must be an object or null");
    const { uid, gid, groups } = account as Record<string, unknown>;
    if (!isId(uid) || !isId(gid) || !Array.isArray(groups) || !groups.every(isId)) bad("account needs numeric uid, gid and groups");
    checked = { uid, gid, groups };
  }
  return { account: checked, cwd, argv: argv as [string, ...string[]], env: env as Record<string, string>, isolation: parseIsolation(isolation) };
}

function parseIsolation(value: unknown): Isolation | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) bad("isolation must be an object or null");
  const { networkNone, privateTmpBytes, readOnly, writable } = value as Record<string, unknown>;
  if (typeof networkNone !== "boolean" || typeof readOnly !== "boolean") bad("isolation needs networkNone and readOnly as booleans");
  if (!(privateTmpBytes === null || privateTmpBytes === undefined || (Number.isSafeInteger(privateTmpBytes) && (privateTmpBytes as number) > 0))) bad("isolation.privateTmpBytes must be a size above 0 or null");
  if (!Array.isArray(writable) || !writable.every((dir) => isString(dir) && dir.startsWith("/"))) bad("isolation.writable must be an array of absolute paths");
  return { networkNone, privateTmpBytes: (privateTmpBytes as number | null) ?? undefined, readOnly, writable };
}

/** Whether this process runs under no_new_privs (set by whoever started it; it cannot be unset). */
function hasNoNewPrivs(): boolean {
  return /^NoNewPrivs:\s*1$/m.test(readFileSync("/proc/self/status", "latin1"));
}

/**
 * Runs, once at boot, what the take runs for the first time otherwise (measured on this machine under SCHED_FIFO, from
 * the request to the program's first instruction): Node's process.execve loads its worker module on the call
 * (~3 ms); V8 compiles each of our functions on its first call (parsing the request and finding the command, ~0.5 ms).
 */
function warmUp(): void {
  process.getBuiltinModule("node:worker_threads");
  parseRequest('{"account":{"uid":1,"gid":1,"groups":[1]},"cwd":"/","argv":["/bin/sh"],"env":{"PATH":"/bin"}}');
  planExec(findCommand(process.execPath, undefined), [process.execPath]);
  isolateOptions({ networkNone: true, privateTmpBytes: 1, readOnly: true, writable: ["/"] }, "/", { uid: 1, gid: 1, groups: [1] }, 3);
}

function main(args: readonly string[]): void {
  let statusFd: number | undefined;
  try {
    const options = parseStandbyOptions(args);
    if (options.help) {
      writeSync(1, standbyUsage);
      return;
    }
    checkStatusFd(options.statusFd);
    statusFd = options.statusFd;
    checkStatusFd(options.requestFd);
    checkExecve();
    // Booted: what Node allocated to start stays charged where it was allocated, and from now on this process is
    // in its job's cgroup, so that no migration (which waits for an RCU grace period) lands on the job's start.
    if (options.cgroupDir !== undefined) joinCgroup(options.cgroupDir, process.pid);
    // Whatever the launcher leaked goes now. Node opens every descriptor of its own close-on-exec (libuv adds
    // O_CLOEXEC to each), so once these are closed the request descriptor is the only one left to close at take.
    closeDescriptors(inheritableDescriptors().filter((fd) => fd !== options.statusFd && fd !== options.requestFd));
    const noNewPrivs = hasNoNewPrivs();
    warmUp();
    writeSync(options.requestFd, "\n");
    const text = readToEnd(options.requestFd);
    // The job library closed the pool (or went away): nothing to run.
    if (text.length === 0) return;
    const request = parseRequest(text.toString("utf8"));
    // Node makes every descriptor above 2 close-on-exec: only a status on standard input reaches cgexec-isolate.
    if ((request.isolation != null) !== (options.statusFd === 0)) {
      throw new CgexecError(125, request.isolation != null ? "an isolated job needs a standby started with --status-fd=0" : "a standby started with --status-fd=0 serves isolated jobs only");
    }
    if (request.account !== null && !noNewPrivs) {
      throw new CgexecError(125, "a standby that drops to an account must run under no_new_privs (start it through setpriv --no-new-privs)");
    }
    enterJob({
      // Joined already.
      cgroupDir: undefined,
      account: request.account ?? undefined,
      cwd: request.cwd,
      argv: request.argv,
      env: request.env,
      isolation: request.isolation ?? undefined,
      statusFd,
      inherited: [options.requestFd],
    });
  } catch (err) {
    report(err, statusFd);
  }
}

if (import.meta.main) main(process.argv.slice(2));
