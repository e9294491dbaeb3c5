// cgexec-standby: option and request parsing, and end-to-end runs of the built entry (dist/standby.js; `pnpm run
// build` first) in real cgroup v2 directories, as root.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it, type TestContext } from "node:test";
import { CgexecError, encodeSpec, type EntrySpec } from "./cgexec.ts";
import { cgroup2Mount } from "./cgroup2-mount.ts";
import { standbyPath, stdinSocket } from "./index.ts";
import { makeCgroup } from "./test-support/cgroup.ts";
import { parseStandbyOptions } from "./standby.ts";

describe("parseStandbyOptions", () => {
  it("reads the request descriptor, in either form", () => {
    assert.deepEqual(parseStandbyOptions(["--request-fd", "4"]), { help: false, requestFd: 4 });
    assert.deepEqual(parseStandbyOptions(["--request-fd=5"]), { help: false, requestFd: 5 });
    assert.equal(parseStandbyOptions(["--help"]).help, true);
  });

  it("rejects a missing or stdio descriptor and anything else (the job's cgroup included) with code 125", () => {
    const bad: [string[], RegExp][] = [
      [[], /--request-fd is required/],
      [["--request-fd=2"], /--request-fd needs a descriptor number >= 3, got "2"/],
      [["--request-fd=4", "--cgroup=/cg/job"], /unexpected argument "--cgroup=\/cg\/job"/],
      [["--request-fd=4", "/cg", "true"], /unexpected argument "\/cg"/],
      [["--uid=5", "--request-fd=4"], /unexpected argument "--uid=5"/],
    ];
    for (const [args, message] of bad) {
      assert.throws(() => parseStandbyOptions(args), (err: unknown) => err instanceof CgexecError && err.code === 125 && message.test(err.message), args.join(" "));
    }
  });
});

const root = cgroup2Mount();
const timeout = 30_000;


interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The program's pid, as the monitor reported it on the status descriptor ("pid N"), if it did. */
  mainPid: number | undefined;
  /** What else the status descriptor (standard input) carried: the failure line. */
  status: string;
}

interface Standby {
  child: ChildProcess;
  pid: number;
  /** Resolves once the standby wrote its ready byte. */
  ready: Promise<void>;
  /** Writes the spec (bytes as they are, or encoded) on standard input, then the go; undefined: end-of-file, no go. */
  send(spec: EntrySpec | Buffer | undefined): void;
  ended: Promise<Ended>;
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Spawns the built standby, told `cgroup` (none when undefined), optionally with a leaked fd 251. */
function startStandby(t: TestContext, options: { cgroup?: string; leak?: string } = {}): Standby {
  let argv = [process.execPath, standbyPath, "--request-fd=4"];
  // bash (not dash: it takes no descriptor above 9) leaks 251 without O_CLOEXEC, as a careless launcher would
  // (--norc: with a socket on standard input bash takes itself for a remote shell and reads ~/.bashrc).
  if (options.leak !== undefined) argv = ["bash", "--norc", "-c", 'exec 251<>"$0"; exec "$@"', options.leak, ...argv];
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["pipe", "pipe", "pipe", "ignore", "pipe"], env: {}, cwd: "/", detached: true });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const request = child.stdio[4] as Readable & Writable;
  request.on("error", () => undefined);
  request.write(`${options.cgroup ?? ""}\n`);
  const ready = new Promise<void>((resolve, reject) => {
    request.once("data", (byte: Buffer) => (byte.toString() === "\n" ? resolve() : reject(new Error(`ready byte ${JSON.stringify(byte.toString())}`))));
    child.once("exit", (code) => reject(new Error(`the standby exited (${String(code)}) before it was ready`)));
  });
  ready.catch(() => undefined);
  const stdin = stdinSocket(child);
  const texts: Promise<string>[] = [collect(child.stdio[1] as Readable), collect(child.stdio[2] as Readable), stdin === null ? Promise.resolve("") : collect(stdin)];
  const ended = (async (): Promise<Ended> => {
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    const [stdout, stderr, status] = await Promise.all(texts);
    const pid = /^pid (\d+)\n/.exec(status ?? "");
    return { code, signal, stdout: stdout ?? "", stderr: stderr ?? "", mainPid: pid === null ? undefined : Number(pid[1]), status: (status ?? "").slice(pid?.[0].length ?? 0) };
  })();
  return {
    child,
    pid: child.pid ?? -1,
    ready,
    send: (spec) => {
      if (spec === undefined) {
        stdin?.end();
        request.end();
        return;
      }
      stdin?.end(Buffer.isBuffer(spec) ? spec : encodeSpec(spec));
      request.end("\n");
    },
    ended,
  };
}

/** CPU ticks (user + system) the process has used so far. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ PATH: "/usr/bin:/bin", ...extra });

describe("cgexec-standby", { skip: (root === undefined || process.getuid?.() !== 0) && "needs root and cgroup v2" }, () => {
  let tmp = "";
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "cgexec-standby-test-"));
    chmodSync(tmp, 0o755);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("waits in its job's cgroup without using CPU, and exits 0 without running anything at end-of-file", { timeout }, async (t) => {
    const job = makeCgroup(t, root as string, "standby-job");
    const standby = startStandby(t, { cgroup: job.path });
    await standby.ready;
    assert.ok(readFileSync(`/proc/${standby.pid}/cgroup`, "utf8").split("\n").includes(`0::${job.name}`));
    // Blocked in read(2) on the request descriptor, a moment after the ready byte.
    const blocked = async (): Promise<boolean> => {
      for (let i = 0; i < 100; i++, await sleep(20)) if (/^0 0x4 /.test(readFileSync(`/proc/${standby.pid}/syscall`, "utf8"))) return true;
      return false;
    };
    assert.ok(await blocked(), readFileSync(`/proc/${standby.pid}/syscall`, "utf8"));
    const ticks = cpuTicks(standby.pid);
    await sleep(500);
    assert.equal(cpuTicks(standby.pid), ticks, "no CPU time while idle");
    standby.send(undefined);
    assert.deepEqual(await standby.ended, { code: 0, signal: null, stdout: "", stderr: "", mainPid: undefined, status: "" });
  });

  it("becomes the job's monitor, whose child is the program: its cgroup from the first instruction, argv and environment verbatim, none of it on a command line", { timeout }, async (t) => {
    const job = makeCgroup(t, root as string, "standby-job");
    const standby = startStandby(t, { cgroup: job.path });
    await standby.ready;
    assert.deepEqual(readFileSync(`/proc/${standby.pid}/cmdline`, "utf8").split("\0").slice(1), [standbyPath, "--request-fd=4", ""], "not even the cgroup (the next job's id)");
    const script = "grep '^0::' /proc/$$/cgroup; echo $$ $PPID; cat /proc/$$/cmdline; printf '\\0@@\\0'; cat /proc/$$/environ; :";
    const argv: [string, ...string[]] = ["/bin/sh", "-c", script, "arg0", "two words", "", "'single'", '"double"', "ünïcödé ✓ 🚀", "a\nb", "--", " "];
    const jobEnv = env({ SPACES: " a b ", EMPTY: "", UNICODE: "ünïcödé ✓ 🚀", NEWLINE: "one\ntwo", EQUALS: "a=b=c", NODE_OPTIONS: "--no-such-node-flag" });
    standby.send({ cwd: tmp, argv, env: jobEnv });
    const ended = await standby.ended;
    assert.deepEqual([ended.code, ended.stderr, ended.status], [0, "", ""]);
    const [cgroupLine, pids] = ended.stdout.split("\n", 2);
    assert.equal(cgroupLine, `0::${job.name}`, "the first thing the program sees is its job's cgroup");
    const [pid, parent] = (pids ?? "").split(" ").map(Number);
    assert.deepEqual([pid, parent], [ended.mainPid, standby.pid], "the program is the reported pid, a child of the standby's process");
    const [cmdline, environ] = ended.stdout.slice(`${cgroupLine}\n${pids}\n`.length).split("\0@@\0");
    assert.deepEqual(cmdline?.split("\0"), [...argv, ""]);
    assert.deepEqual(environ?.split("\0"), [...Object.entries(jobEnv).map(([k, v]) => `${k}=${v}`), ""]);
  });

  it("drops to the account (groups, gid, uid) with no_new_privs, and enters cwd as the account", { timeout }, async (t) => {
    const job = makeCgroup(t, root as string, "standby-job");
    mkdirSync(join(tmp, "suid"), { mode: 0o755, recursive: true });
    copyFileSync("/usr/bin/id", join(tmp, "suid", "id"));
    chmodSync(join(tmp, "suid", "id"), 0o4755);
    const standby = startStandby(t, { cgroup: job.path });
    await standby.ready;
    const script = `pwd; grep -E '^(Uid|Gid|Groups|NoNewPrivs):' /proc/$$/status; ${join(tmp, "suid", "id")} -u`;
    standby.send({ account: { uid: 61184, gid: 61185, groups: [61190, 61191] }, cwd: tmp, argv: ["/bin/sh", "-c", script], env: env() });
    const ended = await standby.ended;
    assert.deepEqual([ended.code, ended.stderr, ended.status], [0, "", ""]);
    const lines = ended.stdout.split("\n");
    assert.equal(lines[0], tmp);
    assert.ok(lines.includes("Uid:\t61184\t61184\t61184\t61184"), ended.stdout);
    assert.ok(lines.includes("Gid:\t61185\t61185\t61185\t61185"), ended.stdout);
    assert.match(ended.stdout, /^Groups:\t61190 61191 ?$/m);
    assert.ok(lines.includes("NoNewPrivs:\t1"), ended.stdout);
    assert.equal(lines.at(-2), "61184", "the setuid-root id gives no root");
  });

  it("gives the program default signal dispositions and no blocked signal (Node ignores SIGPIPE and SIGXFSZ)", { timeout }, async (t) => {
    const standby = startStandby(t);
    await standby.ready;
    standby.send({ cwd: "/", argv: ["/bin/grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"], env: env() });
    const ended = await standby.ended;
    assert.deepEqual([ended.code, ended.stderr], [0, ""]);
    assert.match(ended.stdout, /^SigBlk:\s+0+\nSigIgn:\s+0+\n$/);
  });

  it("the job's LD_PRELOAD acts on the program once and on nothing before it", { timeout }, async (t) => {
    const standby = startStandby(t);
    await standby.ready;
    const preload = join(tmp, "no-such-preload.so");
    standby.send({ account: { uid: 61184, gid: 61184, groups: [] }, cwd: "/", argv: ["/usr/bin/env"], env: env({ LD_PRELOAD: preload }) });
    const ended = await standby.ended;
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(ended.stdout, `PATH=/usr/bin:/bin\nLD_PRELOAD=${preload}\n`);
    // ld.so complains once per dynamically linked program it starts with the variable set.
    assert.equal(ended.stderr.split(preload).length - 1, 1, ended.stderr);
  });

  it("closes what its launcher leaked at boot, and the program gets only 0, 1 and 2", { timeout }, async (t) => {
    const leaked = join(tmp, "leaked");
    writeFileSync(leaked, "");
    const standby = startStandby(t, { leak: leaked });
    await standby.ready;
    assert.ok(!readdirSync(`/proc/${standby.pid}/fd`).includes("251"), "the idle standby holds no leaked descriptor");
    standby.send({ account: { uid: 61184, gid: 61184, groups: [] }, cwd: "/", argv: ["/bin/sh", "-c", "ls /proc/$$/fd; :"], env: env() });
    const ended = await standby.ended;
    assert.deepEqual([ended.code, ended.stderr, ended.stdout, ended.status], [0, "", "0\n1\n2\n", ""]);
  });

  describe("failures: one line on the status descriptor, the exit status, and the program never runs", () => {
    before(() => {
      writeFileSync(join(tmp, "no-exec"), "#!/bin/sh\ntouch ran\n", { mode: 0o644 });
      mkdirSync(join(tmp, "closed"), { mode: 0o700 });
    });
    const account = { uid: 61184, gid: 61184, groups: [] };
    // Functions of the temp directory, which exists only once the tests run.
    const cases: [string, () => Partial<EntrySpec> | Buffer, number, () => string][] = [
      ["a missing program", () => ({ argv: [join(tmp, "missing")] }), 127, () => `${join(tmp, "missing")}: no such file or directory`],
      ["a program without execute permission", () => ({ argv: [join(tmp, "no-exec")] }), 126, () => `${join(tmp, "no-exec")}: permission denied`],
      ["a cwd the account cannot enter", () => ({ cwd: join(tmp, "closed") }), 125, () => `cannot change to directory ${join(tmp, "closed")}: permission denied`],
      ["a spec that is not one", () => Buffer.from("{"), 125, () => "the spec is empty or does not end with a NUL"],
      ["a spec without its argv", () => Buffer.from("--cwd=/\0"), 125, () => "a spec needs --argc=COUNT >= 1 and -- ARGV... ENV..."],
    ];
    for (const [what, change, code, line] of cases) {
      it(`${what} -> ${code}`, { timeout }, async (t) => {
        const standby = startStandby(t);
        await standby.ready;
        const base: EntrySpec = { account, cwd: tmp, argv: ["/usr/bin/touch", join(tmp, "ran")], env: env() };
        const delta = change();
        standby.send(Buffer.isBuffer(delta) ? delta : { ...base, ...delta });
        const ended = await standby.ended;
        assert.deepEqual([ended.code, ended.stdout, ended.stderr, ended.status], [code, "", "", `${line()}\n`]);
        assert.equal(existsSync(join(tmp, "ran")), false);
      });
    }

    it("a job cgroup it cannot join -> 125 at boot, never ready", { timeout }, async (t) => {
      const job = makeCgroup(t, root as string, "standby-job");
      const standby = startStandby(t, { cgroup: `${job.path}-gone` });
      await assert.rejects(standby.ready, /exited \(125\) before it was ready/);
      const ended = await standby.ended;
      assert.deepEqual([ended.code, ended.stdout, ended.stderr, ended.status], [125, "", "", `cgroup ${job.path}-gone: no such file or directory\n`]);
    });
  });
});
