// cgexec-enter's own parts that neither cgexec nor a standby shows: the job's monitor (a cold start: spec on standard
// input) and the signalling of a cgroup through pidfds. End-to-end runs of the built dist/cgexec-enter, as root.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { encodeSpec, type EntrySpec } from "./cgexec.ts";
import { cgroup2Mount } from "./cgroup2-mount.ts";
import { enterHelperPath, stdinSocket } from "./index.ts";
import { makeCgroup } from "./test-support/cgroup.ts";

const root = cgroup2Mount();
const timeout = 30_000;

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Runs `cgexec-enter --spec-on-stdin` with `spec` to its end, as the job library's cold start does. */
async function enter(spec: EntrySpec): Promise<{ pid: number; code: number | null; signal: NodeJS.Signals | null; stdout: string; status: string }> {
  const child = spawn(enterHelperPath, ["--spec-on-stdin"], { stdio: ["pipe", "pipe", "inherit"], env: {}, cwd: "/" });
  const socket = stdinSocket(child);
  assert.ok(socket);
  socket.end(encodeSpec(spec));
  const texts = [collect(child.stdout as Readable), collect(socket)];
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  const [stdout = "", status = ""] = await Promise.all(texts);
  return { pid: child.pid ?? -1, code, signal, stdout, status };
}

const python = "/usr/bin/python3";

describe("cgexec-enter", { skip: (root === undefined || process.getuid?.() !== 0) && "needs root and cgroup v2" }, () => {
  it("a cold start's monitor reports the program's pid, reaps what the program makes its child, and ends as the program ends", { timeout, skip: !existsSync(python) && "no python3 for clone(2)" }, async (t) => {
    const cg = makeCgroup(t, root as string, "enter");
    // clone(CLONE_PARENT | SIGCHLD) five times: children of the program's parent, the monitor, which must reap them.
    // Then, a moment later, counts the zombies whose parent is its own parent (every user can read /proc/PID/stat).
    const script = [
      "import ctypes, os, sys, time",
      "libc = ctypes.CDLL(None)",
      "for _ in range(5):",
      "    if libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0) == 0:",
      "        os._exit(0)",
      "time.sleep(0.3)",
      "zombies = 0",
      "for entry in filter(str.isdigit, os.listdir('/proc')):",
      "    try:",
      "        stat = open('/proc/' + entry + '/stat').read()",
      "    except OSError:",
      "        continue",
      "    fields = stat[stat.rfind(')') + 2:].split()",
      "    zombies += fields[0] == 'Z' and int(fields[1]) == os.getppid()",
      "print(os.getpid(), os.getppid(), zombies, flush=True)",
      "sys.exit(7)",
    ].join("\n");
    const ran = await enter({ cgroupDir: cg.path, account: { uid: 61184, gid: 61184, groups: [] }, cwd: "/", argv: [python, "-c", script], env: {} });
    const [pid, parent, zombies] = ran.stdout.trim().split(" ").map(Number);
    assert.equal(zombies, 0, "the monitor reaped the five");
    assert.deepEqual([ran.code, ran.signal, ran.status], [7, null, `pid ${String(pid)}\n`], "the program's exit code, and its pid on the status");
    assert.equal(parent, ran.pid, "the program is the monitor's child");
    assert.equal(readFileSync(`${cg.path}/cgroup.procs`, "utf8"), "", "nothing left in the cgroup");
  });

  it("a program killed by a signal: the monitor dies of the same signal", { timeout }, async () => {
    const ran = await enter({ account: { uid: 61184, gid: 61184, groups: [] }, cwd: "/", argv: ["/bin/sh", "-c", "kill -USR1 $$"], env: {} });
    assert.deepEqual([ran.code, ran.signal], [null, "SIGUSR1"]);
  });

  it("--signal=N --cgroup=DIR signals every process of the cgroup and nothing outside it; a cgroup that is gone is fine", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "enter-signal");
    const inside = [0, 1].map(() => spawn("sleep", ["60"], { stdio: "ignore" }));
    const outside = spawn("sleep", ["60"], { stdio: "ignore" });
    t.after(() => outside.kill("SIGKILL"));
    for (const child of inside) writeFileSync(`${cg.path}/cgroup.procs`, String(child.pid));
    const ended = inside.map((child) => once(child, "exit"));
    execFileSync(enterHelperPath, ["--signal=15", `--cgroup=${cg.path}`]);
    assert.deepEqual(await Promise.all(ended), [
      [null, "SIGTERM"],
      [null, "SIGTERM"],
    ]);
    await sleep(100);
    assert.equal(outside.exitCode === null && outside.signalCode === null, true, "the process outside still runs");
    execFileSync(enterHelperPath, ["--signal=15", `--cgroup=${cg.path}-gone`]);
  });
});
