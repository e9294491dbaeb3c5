#!/usr/bin/env node
// cgexec [--status-fd=N] [--uid=N --gid=N [--groups=G,...]] CGROUP_DIR COMMAND [ARGS...]: join a cgroup v2,
// drop to an account, then become COMMAND with nothing but stdio inherited.
//
// It runs on the path of every job start, so this is one file on purpose, and it reaches node:fs
// through process.getBuiltinModule rather than an `import`: measured with bench/startup.ts' CPU
// column on this machine (loaded), one ESM module per part (8 more modules) cost ~24 ms more CPU per
// start than this single file, and a static `import ... from "node:fs"` alone ~8 ms (it builds the
// ESM facade of node:fs). The parts are exported for the tests; main runs only as the entry point.
const { accessSync, closeSync, constants, fstatSync, openSync, readSync, readdirSync, statSync, statfsSync, writeSync } =
  process.getBuiltinModule("node:fs");

// ---- Errors

/** Exit status of a cgexec failure, chosen like env(1) and chroot(8) do. */
export type CgexecExitCode =
  /** Usage error, the cgroup could not be joined, or the account could not be switched to. */
  | 125
  /** COMMAND was found but cannot be executed (a directory, no execute permission). */
  | 126
  /** COMMAND (or its script interpreter) was not found. */
  | 127;

/**
 * The one error cgexec raises for its own failures. `code` is the exit status cgexec ends with;
 * `message` is the one line it prints (after "cgexec: " on stderr, bare on the status fd).
 */
export class CgexecError extends Error {
  override name = "CgexecError";
  readonly code: CgexecExitCode;

  constructor(code: CgexecExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The short reason of a failed system call ("no such file or directory"), for one-line messages. */
function reasonOf(err: unknown): string {
  if (err instanceof Error && "errno" in err && typeof err.errno === "number") {
    // node:util is only needed on this failure path: load it then. fs errors carry -errno, the id calls +errno.
    return process.getBuiltinModule("node:util").getSystemErrorMessage(-Math.abs(err.errno));
  }
  return err instanceof Error ? err.message : String(err);
}

// ---- Command line

/** The `--help` text of cgexec. */
export const usage = `Usage: cgexec [--status-fd=N] [--uid=N --gid=N [--groups=G,...]] [isolation] [--] CGROUP_DIR COMMAND [ARGS...]
       cgexec [options] --no-cgroup [--] COMMAND [ARGS...]

Write our own pid to CGROUP_DIR/cgroup.procs (a cgroup v2 directory), then replace
ourselves with COMMAND through execve(2): COMMAND keeps our pid and runs inside the
cgroup from its first instruction. COMMAND is looked up on PATH like execvp(3) does
(a name containing "/" is used as is; an empty PATH entry is the current directory;
PATH unset means /bin:/usr/bin; a file that is neither ELF nor "#!" is run by /bin/sh).
ARGS and the environment are passed through untouched. COMMAND inherits only the
descriptors 0, 1 and 2: every other one is closed right before execve, whatever
cgexec itself inherited.

Options (before CGROUP_DIR; "--" ends them):
  --status-fd=N  Report a failure on file descriptor N (N >= 3) instead of stderr, as
                 one line without the "cgexec: " prefix. On success N is closed just
                 before execve, so the reader sees end-of-file with no bytes. With
                 --uid or isolation N must be 0 (standard input, a socket), which
                 becomes /dev/null.
  --uid=N        After joining the cgroup (as root), become user id N and group id
  --gid=N        --gid (both are needed; root only): the supplementary groups are set
                 to --groups (none without it), then the gid, then the uid. These steps
                 are cgexec-enter's (built beside cgexec from native/cgexec-enter.c):
                 it sets no_new_privs while still root, so setuid/setgid bits and file
                 capabilities give COMMAND no privilege, then drops, then looks COMMAND
                 up and executes it as that account (a file it may not execute is
                 "permission denied" as with execvp).
  --groups=G,... Supplementary group ids of the account (numbers), with --uid.
  --no-cgroup    Join no cgroup (for hosts without cgroup v2): the first operand is
                 COMMAND.

Isolation (root only; taken by cgexec-enter after joining the cgroup, before the drop):
  --network-none     A network namespace of its own with only lo, up, and a sysfs of
                     it on /sys (/sys/class/net lists only lo).
  --private-tmp=BYTES
                     A mount namespace of its own with a fresh tmpfs of BYTES on /tmp
                     and on /var/tmp (mode 1777, nosuid, nodev), gone with the job.
  --read-only        A mount namespace of its own where every mount but /proc, /sys
                     and /dev is read-only, except the --writable directories.
  --writable=DIR     With --read-only: DIR stays writable (repeatable; the current
                     directory always does), unless it is /, /var, /tmp, /var/tmp,
                     /home, /srv, /run, /root, /mnt, /media or inside /usr, /etc,
                     /boot, /opt, /bin, /sbin or /lib*: those stay read-only.
  -h, --help     Print this help and exit 0.

Exit status (of cgexec's own failures; otherwise that of COMMAND):
  125  usage error, the cgroup could not be joined, an isolation step failed, or the
       account not switched to
  126  COMMAND found but not executable (a directory, no execute permission)
  127  COMMAND, or its "#!" interpreter, not found
`;

const synopsis = "usage: cgexec [--status-fd=N] [--uid=N --gid=N [--groups=G,...]] [isolation] [--] CGROUP_DIR COMMAND [ARGS...]";

/** The ids a job drops to: set in this order, groups, gid, uid. */
export interface Account {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary group ids; empty clears them. */
  readonly groups: readonly number[];
}

/**
 * What a job is kept from besides its cgroup and its account: each step is taken by cgexec-enter, as root, between
 * joining the cgroup and dropping to the account.
 */
export interface Isolation {
  /** A network namespace of its own, with only `lo` (up). */
  readonly networkNone: boolean;
  /** Size in bytes of the fresh tmpfs mounted on /tmp and on /var/tmp; undefined for the host's /tmp. */
  readonly privateTmpBytes: number | undefined;
  /** Every mount but /proc, /sys and /dev read-only, except `writable` (and the private tmpfs). */
  readonly readOnly: boolean;
  /** Directories kept writable under `readOnly` (the job's home and working directory). */
  readonly writable: readonly string[];
}

/** Whether `isolation` asks for anything. */
export function isolates(isolation: Isolation | undefined): isolation is Isolation {
  return isolation !== undefined && (isolation.networkNone || isolation.privateTmpBytes !== undefined || isolation.readOnly);
}

/** The options before CGROUP_DIR, and where the operands start. */
export interface Options {
  readonly help: boolean;
  /** The descriptor to report a failure on, if `--status-fd` was given. */
  readonly statusFd: number | undefined;
  /** The account to drop to after joining, if `--uid` and `--gid` were given. */
  readonly account: Account | undefined;
  /** `--no-cgroup`: there is no CGROUP_DIR operand. */
  readonly noCgroup: boolean;
  /** The isolation asked for with --network-none, --private-tmp, --read-only; undefined for none. */
  readonly isolation: Isolation | undefined;
  /** Index in the arguments of the first operand (CGROUP_DIR, or COMMAND with --no-cgroup). */
  readonly operands: number;
}

/** The operands: where to go and what to run. */
export interface Target {
  /** Undefined with --no-cgroup. */
  readonly cgroupDir: string | undefined;
  /** COMMAND followed by its ARGS: the argv of the target, verbatim. */
  readonly argv: readonly [string, ...string[]];
}

/**
 * Parse the options of cgexec's arguments (without node and the script path). Options stop at
 * the first operand or after "--". Throws CgexecError 125 on a bad option.
 */
export function parseOptions(args: readonly string[]): Options {
  let statusFd: number | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  let groups: number[] | undefined;
  let noCgroup = false;
  let help = false;
  let networkNone = false;
  let privateTmpBytes: number | undefined;
  let readOnly = false;
  const writable: string[] = [];
  let i = 0;
  // "--name=value" or "--name value".
  const valueOf = (arg: string, name: string): string | undefined => (arg === name ? args[++i] : arg.slice(name.length + 1));
  const is = (arg: string, name: string): boolean => arg === name || arg.startsWith(`${name}=`);
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "-h" || arg === "--help") {
      help = true;
      i++;
      break;
    }
    if (is(arg, "--status-fd")) statusFd = parseFd(valueOf(arg, "--status-fd"), "--status-fd", 0);
    else if (is(arg, "--uid")) uid = parseId("--uid", valueOf(arg, "--uid"));
    else if (is(arg, "--gid")) gid = parseId("--gid", valueOf(arg, "--gid"));
    else if (is(arg, "--groups")) groups = parseGroups(valueOf(arg, "--groups"));
    else if (arg === "--no-cgroup") noCgroup = true;
    else if (arg === "--network-none") networkNone = true;
    else if (is(arg, "--private-tmp")) privateTmpBytes = parseBytes("--private-tmp", valueOf(arg, "--private-tmp"));
    else if (arg === "--read-only") readOnly = true;
    else if (is(arg, "--writable")) writable.push(parseDir("--writable", valueOf(arg, "--writable")));
    else if (arg.startsWith("-") && arg !== "-") throw new CgexecError(125, `unknown option ${arg} (${synopsis})`);
    else break;
  }
  if (help) return { help, statusFd, account: undefined, noCgroup, isolation: undefined, operands: i };
  if ((uid === undefined) !== (gid === undefined)) throw new CgexecError(125, `--uid and --gid go together (${synopsis})`);
  if (groups !== undefined && uid === undefined) throw new CgexecError(125, `--groups needs --uid and --gid (${synopsis})`);
  if (writable.length > 0 && !readOnly) throw new CgexecError(125, `--writable needs --read-only (${synopsis})`);
  const account = uid === undefined || gid === undefined ? undefined : { uid, gid, groups: groups ?? [] };
  const isolation = { networkNone, privateTmpBytes, readOnly, writable };
  const helper = account !== undefined || isolates(isolation);
  if (statusFd !== undefined && (helper ? statusFd !== 0 : statusFd < 3)) {
    // Node marks every descriptor above 2 close-on-exec (and cannot clear it): cgexec-enter reports on standard input.
    const why = helper ? "with --uid or isolation, --status-fd must be 0 (cgexec-enter moves it off standard input, which becomes /dev/null)" : "--status-fd needs a descriptor number >= 3";
    throw new CgexecError(125, `${why}, got ${JSON.stringify(String(statusFd))}`);
  }
  return { help, statusFd, account, noCgroup, isolation: isolates(isolation) ? isolation : undefined, operands: i };
}

/**
 * Parse the operands that follow the options: CGROUP_DIR (unless `noCgroup`), COMMAND and its
 * ARGS. Throws CgexecError 125 when one is missing.
 */
export function parseTarget(operands: readonly string[], noCgroup = false): Target {
  if (noCgroup) {
    const [command, ...args] = operands;
    if (command === undefined) throw new CgexecError(125, `missing COMMAND (${synopsis})`);
    return { cgroupDir: undefined, argv: [command, ...args] };
  }
  const [cgroupDir, command, ...args] = operands;
  if (cgroupDir === undefined || command === undefined) {
    throw new CgexecError(125, `missing ${cgroupDir === undefined ? "CGROUP_DIR and " : ""}COMMAND (${synopsis})`);
  }
  if (cgroupDir === "") throw new CgexecError(125, `empty CGROUP_DIR (${synopsis})`);
  return { cgroupDir, argv: [command, ...args] };
}

/** The largest uid or gid: ids are 32-bit and (uid_t)-1 means "unchanged" to the kernel, never a valid id. */
export const maxId = 0xfffffffe;

function parseId(option: string, value: string | undefined): number {
  if (value === undefined || !/^\d{1,10}$/.test(value) || Number(value) > maxId) {
    throw new CgexecError(125, `${option} needs a numeric id from 0 to ${maxId}, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}

function parseBytes(option: string, value: string | undefined): number {
  if (value === undefined || !/^\d{1,16}$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new CgexecError(125, `${option} needs a size in bytes above 0, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}

function parseDir(option: string, value: string | undefined): string {
  if (value === undefined || !value.startsWith("/") || value.includes("\0")) {
    throw new CgexecError(125, `${option} needs an absolute path, got ${JSON.stringify(value ?? "")}`);
  }
  return value;
}

function parseGroups(value: string | undefined): number[] {
  if (value === "") return [];
  return (value ?? "").split(",").map((id) => parseId("--groups", id));
}

/** A descriptor number of at least `min` (3 by default: descriptors 0-2 are the target's stdio). */
export function parseFd(value: string | undefined, option = "--status-fd", min = 3): number {
  if (value === undefined || !/^\d{1,9}$/.test(value) || Number(value) < min) {
    throw new CgexecError(125, `${option} needs a descriptor number >= ${String(min)}, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}

// ---- Finding the command, as execvp(3) does

/** The search path execvp(3) uses when PATH is unset (glibc's confstr _CS_PATH). */
export const defaultSearchPath = "/bin:/usr/bin";

// The errors on which execvp(3) goes on to the next PATH entry as if the file were absent.
const absent = new Set(["ENOENT", "ENOTDIR", "ESTALE", "ENODEV", "ETIMEDOUT"]);

/**
 * Find the file execvp(3) would execute for `command` with search path `path` (the value of
 * PATH; `undefined` when unset). A command containing "/" is used as is; otherwise each entry
 * is tried in order, an empty entry meaning the current directory. Like execvp, an entry that
 * holds a directory or a non-executable file is skipped, and only reported (126) when no later
 * entry has the command. Throws CgexecError 127 when nothing is found, 126 when what is found
 * cannot be executed.
 */
export function findCommand(command: string, path: string | undefined): string {
  if (command === "") throw new CgexecError(127, `"": command not found`);
  if (command.includes("/")) {
    const problem = checkExecutable(command);
    if (problem !== undefined) throw problem;
    return command;
  }
  let denied: CgexecError | undefined;
  for (const dir of (path ?? defaultSearchPath).split(":")) {
    const candidate = dir === "" ? `./${command}` : `${dir}/${command}`;
    const problem = checkExecutable(candidate);
    if (problem === undefined) return candidate;
    if (problem.code === 127) continue;
    const code = (problem.cause as NodeJS.ErrnoException | undefined)?.code;
    // execvp gives up at once on errors other than "absent" or "permission denied".
    if (code !== undefined && code !== "EACCES") throw problem;
    denied ??= problem;
  }
  throw denied ?? new CgexecError(127, `${command}: command not found`);
}

/**
 * Why `file` cannot be executed, or `undefined` when it can: 127 when it does not exist, 126 when
 * it is not a regular file or lacks execute permission (or another error such as ELOOP occurs).
 * These are the checks execve(2) would fail on; Node's process.execve aborts instead of throwing.
 */
export function checkExecutable(file: string): CgexecError | undefined {
  try {
    const stats = statSync(file);
    if (!stats.isFile()) {
      return new CgexecError(126, `${file}: ${stats.isDirectory() ? "is a directory" : "not a regular file"}`);
    }
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    return new CgexecError(absent.has(code) ? 127 : 126, `${file}: ${reasonOf(err)}`, { cause: err });
  }
}

/** The arguments for process.execve. */
export interface ExecPlan {
  readonly file: string;
  readonly args: readonly string[];
}

// The kernel reads at most this much of a file to recognise it (BINPRM_BUF_SIZE).
const headerSize = 256;
const shell = "/bin/sh";

/**
 * How to execute `file` (found for `argv[0]`) so that execve(2) cannot fail on it, since Node's
 * process.execve aborts the process when it does: an ELF file is executed directly; a "#!" script
 * too, once its interpreter is checked (a missing one is 127, like execvp's ENOENT); any other
 * file is run by /bin/sh, as execvp(3) does on ENOEXEC. Throws CgexecError for a bad interpreter.
 */
export function planExec(file: string, argv: readonly [string, ...string[]]): ExecPlan {
  const header = readHeader(file);
  if (header === undefined || header.subarray(0, 4).toString("latin1") === "\x7fELF") return { file, args: argv };
  const interpreter = /^#![ \t]*([^ \t\n\0]+)/.exec(header.toString("latin1"))?.[1];
  if (interpreter === undefined) return { file: shell, args: [shell, file, ...argv.slice(1)] };
  const problem = checkExecutable(interpreter);
  if (problem !== undefined) {
    throw new CgexecError(problem.code, `${file}: bad interpreter ${problem.message}`, { cause: problem.cause });
  }
  return { file, args: argv };
}

/** The first bytes of `file`, or `undefined` when we may not read it (execute-only): leave it to the kernel. */
function readHeader(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(headerSize);
    return header.subarray(0, readSync(fd, header, 0, headerSize, 0));
  } finally {
    closeSync(fd);
  }
}

// ---- Joining the cgroup

// statfs(2) f_type of a cgroup v2 file system (linux/magic.h).
const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * Move process `pid` into the cgroup v2 directory `dir` by writing it to `dir/cgroup.procs`.
 * Throws CgexecError 125 when `dir` is missing, is not on a cgroup v2 file system, or the kernel
 * rejects the write (permission, "no internal processes" rule, a cgroup removed meanwhile...).
 */
export function joinCgroup(dir: string, pid: number): void {
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: ${reasonOf(err)}`, { cause: err });
  }
  // A plain directory (or a cgroup v1 one) may hold a cgroup.procs too: only the file system type tells.
  if (type !== CGROUP2_SUPER_MAGIC) throw new CgexecError(125, `cgroup ${dir}: not a cgroup v2 directory`);
  let fd: number;
  try {
    // No O_CREAT: never create a stray cgroup.procs file.
    fd = openSync(`${dir}/cgroup.procs`, constants.O_WRONLY);
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: opening cgroup.procs: ${reasonOf(err)}`, { cause: err });
  }
  try {
    writeSync(fd, String(pid));
  } catch (err) {
    throw new CgexecError(125, `cgroup ${dir}: writing cgroup.procs: ${reasonOf(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

// ---- The descriptors

/**
 * Check that descriptor `fd` is open, so a wrong N fails (125) before anything happens. Note that
 * Node opens descriptors of its own at start-up (epoll, eventfd, pipes): a small N that the parent
 * did not pass may be one of them, which no check can tell apart.
 */
export function checkStatusFd(fd: number): void {
  try {
    fstatSync(fd);
  } catch (err) {
    throw new CgexecError(125, `--status-fd=${fd}: ${reasonOf(err)}`, { cause: err });
  }
}

/**
 * Close the status fd right before execve, so the target does not inherit it and the reader sees
 * end-of-file with no bytes.
 */
function closeStatusFd(fd: number): void {
  try {
    closeSync(fd);
  } catch (err) {
    throw new CgexecError(125, `--status-fd=${fd}: ${reasonOf(err)}`, { cause: err });
  }
}

// The close-on-exec bit as /proc/PID/fdinfo reports it among a descriptor's flags (octal O_CLOEXEC).
const O_CLOEXEC = 0o2000000;

/**
 * Every open descriptor above 2 that execve(2) would pass on: those without FD_CLOEXEC, as
 * /proc/self/fdinfo/N reports it (Node has no fcntl). Whatever cgexec inherited from its parent's
 * launcher is among them; Node's own descriptors (epoll, io_uring, eventfd, signal pipes) are
 * close-on-exec and are not. Closing those too is not safe: another thread of Node (the platform's
 * delayed-task loop) may still poll on them, and it aborted the process before execve did.
 */
export function inheritableDescriptors(): number[] {
  let names: string[];
  try {
    names = readdirSync("/proc/self/fd");
  } catch (err) {
    throw new CgexecError(125, `cannot list the open descriptors to close (/proc/self/fd): ${reasonOf(err)}`, { cause: err });
  }
  const inheritable: number[] = [];
  const info = Buffer.alloc(256);
  for (const name of names) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let infoFd: number;
    try {
      infoFd = openSync(`/proc/self/fdinfo/${fd}`, constants.O_RDONLY);
    } catch {
      continue; // closed meanwhile: the descriptor readdir used
    }
    try {
      const text = info.toString("latin1", 0, readSync(infoFd, info, 0, info.length, 0));
      const flags = /^flags:\s+([0-7]+)$/m.exec(text)?.[1];
      if (flags === undefined) throw new CgexecError(125, `cannot tell whether descriptor ${fd} is close-on-exec (/proc/self/fdinfo/${fd})`);
      if ((parseInt(flags, 8) & O_CLOEXEC) === 0) inheritable.push(fd);
    } finally {
      closeSync(infoFd);
    }
  }
  return inheritable;
}

/** Close `fds` (the last step before execve); one that is already closed is fine. */
export function closeDescriptors(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed: the status fd
    }
  }
}

// ---- The program, when cgexec itself executes it (no account, no isolation)

/**
 * Node ignores SIGPIPE and SIGXFSZ for itself, and an ignored signal stays ignored across
 * execve(2): a target would then never die of a closed pipe (`yes | head -1` would complain). A
 * program spawned by Node (libuv) gets every signal at its default; do the same here.
 */
function restoreDefaultSignals(): void {
  const noop = (): void => undefined;
  for (const signal of ["SIGPIPE", "SIGXFSZ"] as const) {
    // Removing the last listener makes libuv put the disposition back to SIG_DFL, synchronously.
    process.on(signal, noop).off(signal, noop);
  }
}

// ---- cgexec-enter: the last steps of every start that drops to an account or is isolated

/** cgexec-enter, built beside cgexec (dist/cgexec-enter) from native/cgexec-enter.c. */
export const enterHelperPath = decodeURIComponent(new URL("../dist/cgexec-enter", import.meta.url).pathname);

/** The path of cgexec-enter; CgexecError 125 when it is missing or not executable (it was not built). */
export function checkEnterHelper(): string {
  const problem = checkExecutable(enterHelperPath);
  if (problem !== undefined) {
    throw new CgexecError(125, `dropping to an account and isolation need cgexec-enter, built with a C compiler from native/cgexec-enter.c: ${problem.message}`, { cause: problem });
  }
  return enterHelperPath;
}

/** Everything cgexec-enter needs to become a job. */
export interface EntrySpec {
  /** The job's cgroup v2 directory, joined first (as root); undefined to join none. */
  readonly cgroupDir?: string | undefined;
  /** The account to drop to; undefined to keep root. */
  readonly account?: Account | undefined;
  /** The directory to change to, as the account (kept writable under read-only, outside the system's trees). */
  readonly cwd: string;
  /** The program's argv, verbatim: argv[0] is looked up on `env.PATH` as the account, like execvp(3) does. */
  readonly argv: readonly [string, ...string[]];
  /** The program's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Namespaces and mounts; undefined for none. */
  readonly isolation?: Isolation | undefined;
}

/** cgexec-enter's options for `spec` (without its argv and environment). */
export function enterOptions(spec: Omit<EntrySpec, "argv" | "env">): string[] {
  const options = spec.cgroupDir === undefined ? [] : [`--cgroup=${spec.cgroupDir}`];
  const { isolation, account } = spec;
  if (isolation?.networkNone === true) options.push("--network-none");
  if (isolation?.privateTmpBytes !== undefined) options.push(`--private-tmp=${String(isolation.privateTmpBytes)}`);
  if (isolation?.readOnly === true) {
    options.push("--read-only");
    for (const dir of new Set([...isolation.writable, spec.cwd])) options.push(`--writable=${dir}`);
  }
  if (account !== undefined) options.push(`--uid=${String(account.uid)}`, `--gid=${String(account.gid)}`, `--groups=${account.groups.join(",")}`);
  options.push(`--cwd=${spec.cwd}`);
  return options;
}

/**
 * `spec` as cgexec-enter reads it on standard input (`cgexec-enter --spec-on-stdin`): NUL-terminated strings, the
 * options, `--argc=N`, `--`, the N strings of argv, then the environment as NAME=VALUE. Writing it there (and not on
 * a command line, which every user may read in /proc/PID/cmdline) keeps the job's arguments and environment
 * to the processes of its own account.
 */
export function encodeSpec(spec: EntrySpec): Buffer {
  const strings = [...enterOptions(spec), `--argc=${String(spec.argv.length)}`, "--", ...spec.argv];
  for (const [name, value] of Object.entries(spec.env)) strings.push(`${name}=${value}`);
  if (strings.some((s) => s.includes("\0"))) throw new CgexecError(125, "the job's arguments and environment cannot hold a NUL byte");
  return Buffer.from(`${strings.join("\0")}\0`);
}

/** What {@link enterJob} needs to know about the job (cgexec's command line). */
export interface JobEntry {
  /** The job's cgroup v2 directory; undefined to join none (--no-cgroup). */
  readonly cgroupDir: string | undefined;
  /** The account to drop to after joining; undefined to keep ours. */
  readonly account: Account | undefined;
  /** COMMAND and its ARGS: the target's argv, verbatim. */
  readonly argv: readonly [string, ...string[]];
  /** The status descriptor, closed right before execve. */
  readonly statusFd: number | undefined;
  /** Namespaces and mounts to take by cgexec-enter; undefined for none. */
  readonly isolation?: Isolation | undefined;
}

/**
 * Become the job. With an account or isolation, cgexec-enter does every step (the cgroup, no_new_privs while still
 * root, the namespaces, the drop, the lookup as the account, the exec): it is executed with cgexec's arguments and
 * environment, which the caller gave cgexec, so nothing new appears on a command line. Without either: join the
 * cgroup, find the command, put the signals Node ignores back to their defaults, close every descriptor above 2 that
 * execve would pass on (the status fd last), then execve. Every check execve could fail on comes before it (Node
 * aborts when execve fails), so this returns only by throwing CgexecError, before the target ran.
 */
export function enterJob(entry: JobEntry): void {
  const execve = checkExecve();
  const env = process.env as Record<string, string>;
  if (entry.account !== undefined || isolates(entry.isolation)) {
    const helper = checkEnterHelper();
    const options = enterOptions({ cgroupDir: entry.cgroupDir, account: entry.account, isolation: entry.isolation, cwd: process.cwd() });
    execve.call(process, helper, [helper, ...(entry.statusFd === 0 ? ["--status-fd=0"] : []), ...options, "--", ...entry.argv], env);
    return;
  }
  if (entry.cgroupDir !== undefined) joinCgroup(entry.cgroupDir, process.pid);
  const plan = planExec(findCommand(entry.argv[0], env.PATH), entry.argv);
  restoreDefaultSignals();
  const inherited = inheritableDescriptors();
  if (entry.statusFd !== undefined) closeStatusFd(entry.statusFd);
  closeDescriptors(inherited);
  execve.call(process, plan.file, [...plan.args], env);
}

function main(args: readonly string[]): void {
  let statusFd: number | undefined;
  try {
    if (args.length === 0) {
      writeSync(2, usage);
      process.exitCode = 125;
      return;
    }
    const options = parseOptions(args);
    if (options.help) {
      writeSync(1, usage);
      return;
    }
    if (options.statusFd !== undefined) {
      // A bad descriptor is reported on stderr: it cannot carry its own failure.
      checkStatusFd(options.statusFd);
      statusFd = options.statusFd;
    }
    const target = parseTarget(args.slice(options.operands), options.noCgroup);
    checkExecve();
    enterJob({ cgroupDir: target.cgroupDir, account: options.account, argv: target.argv, statusFd, isolation: options.isolation });
  } catch (err) {
    report(err, statusFd);
  }
}

/** process.execve; CgexecError 125 on a Node without it (before 22.15). */
export function checkExecve(): NonNullable<NodeJS.Process["execve"]> {
  const { execve } = process;
  if (typeof execve !== "function") throw new CgexecError(125, `process.execve needs Node >= 22.15, this is ${process.version}`);
  return execve;
}

/** Print the one-line failure (bare on the status fd, prefixed on stderr) and set the exit code. */
export function report(err: unknown, statusFd: number | undefined): void {
  const failure = err instanceof CgexecError ? err : new CgexecError(125, String(err), { cause: err });
  process.exitCode = failure.code;
  if (statusFd !== undefined) {
    try {
      writeSync(statusFd, `${failure.message}\n`);
      return;
    } catch {
      // The status fd is unusable: fall back to stderr rather than lose the message.
    }
  }
  writeSync(2, `cgexec: ${failure.message}\n`);
}

if (import.meta.main) main(process.argv.slice(2));
