// Integration: a second manager on the same data directory and cgroup parent gets every job back, adopts running
// ones, and records those that ended while no manager ran; records live in a real SQLite file.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, afterEach, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { JobManager } from "../job-manager.ts";
import { collect, followAll, isAlive, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { LogEvent, ManagerOptions } from "../types.ts";

const timeout = 60_000;

/** Every Restarts of the running test, checked after it. */
const opened = new Set<Restarts>();

/** Managers opened one after the other on one data directory and cgroup parent, as a restarted server. */
class Restarts {
  readonly logs: LogEvent[] = [];
  readonly cgroupParent = uniqueParent();
  readonly dataDir: string;
  readonly options: Partial<ManagerOptions>;
  #open: JobManager | undefined;

  constructor(dataDir: string, options: Partial<ManagerOptions> = {}) {
    this.dataDir = dataDir;
    this.options = options;
    opened.add(this);
  }

  async open(options: Partial<ManagerOptions> = {}): Promise<JobManager> {
    await this.#open?.close();
    this.#open = await JobManager.create({ dataDir: this.dataDir, cgroupParent: this.cgroupParent, defaultGraceMs: 500, log: (e) => this.logs.push(e), ...this.options, ...options });
    return this.#open;
  }

  async close(): Promise<void> {
    await this.#open?.close();
    this.#open = undefined;
  }

  /** After a test's last close, with onClose "stop": the sub-tree is gone. */
  assertSubtreeGone(): void {
    const parent = this.logs.find((e) => e.message.startsWith("cgroup v2"))?.cgroup;
    if (parent !== undefined) assert.equal(existsSync(parent), false, `${parent} left behind`);
  }
}

/** Waits until the job's stdout holds `text`. */
async function waitForOutput(manager: JobManager, id: string, text: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const out = await collect(manager.output(id, { stream: "stdout" }));
    if (out.stdout.toString().includes(text)) return;
    await sleep(20);
  }
  assert.fail(`no ${JSON.stringify(text)} in the output`);
}

afterEach(() => {
  for (const restarts of opened) restarts.assertSubtreeGone();
  opened.clear();
});

function sql(dataDir: string, statement: string, ...params: (string | number)[]): void {
  const db = new DatabaseSync(join(dataDir, "state.db"));
  db.prepare(statement).run(...params);
  db.close();
}

describe("restart", { timeout }, () => {
  let dir: string;
  before(async () => {
    dir = await reachableTempDir("jobexec-core-restart-");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("finished jobs come back with the same ids, seqs and byte-identical output; deleted ones stay gone", async () => {
    const restarts = new Restarts(join(dir, "finished"));
    let manager = await restarts.open();
    const a = await manager.start({ program: "sh", args: ["-c", "printf 'out\\0\\377'; echo err >&2; exit 3"] }, "alice");
    const b = await manager.start({ program: "echo", args: ["bye"] }, "bob");
    const gone = await manager.start({ program: "true" }, "bob");
    for (const job of [a, b, gone]) await followAll(manager, job.id);
    await manager.delete(gone.id);
    const before = await manager.list();
    await restarts.close();
    assert.ok(existsSync(join(restarts.dataDir, "jobs", a.id, "stdout")), "close() keeps output");

    manager = await restarts.open();
    assert.deepEqual(await manager.list(), before);
    assert.equal((await manager.get(a.id)).exitCode, 3);
    const out = await followAll(manager, a.id);
    assert.ok(out.stdout.equals(Buffer.from("out\0\xff", "latin1")));
    assert.equal(out.stderr.toString(), "err\n");
    await assert.rejects(manager.get(gone.id), { code: "not_found" });
    const c = await manager.start({ program: "true" }, "alice");
    assert.ok(c.seq > gone.seq, `a new job's seq ${String(c.seq)} is above every earlier one, deleted ones included`);
    assert.ok(restarts.logs.some((e) => /loaded 2 job record\(s\)/.test(e.message)));
    await restarts.close();
  });

  test("close() stops running jobs as 'server shutdown' and keeps them", async () => {
    const restarts = new Restarts(join(dir, "shutdown"));
    let manager = await restarts.open();
    const job = await manager.start({ program: "sh", args: ["-c", "echo up; exec sleep 1000"] }, "alice");
    await waitForOutput(manager, job.id, "up");
    await restarts.close();
    assert.equal(isAlive(job.pid), false);
    manager = await restarts.open();
    const after = await manager.get(job.id);
    assert.equal(after.state, "stopped");
    assert.equal(after.stopReason, "server_shutdown");
    assert.equal(after.stoppedBy, undefined);
    assert.equal(after.signal, "SIGTERM");
    assert.equal((await followAll(manager, job.id)).stdout.toString(), "up\n");
    await restarts.close();
  });

  test("onClose keep: the next manager adopts a running job; followers get it all, then live; stop works through the cgroup", async () => {
    const restarts = new Restarts(join(dir, "keep"), { onClose: "keep" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "sh", args: ["-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.05; done"] }, "alice");
    await waitForOutput(manager, job.id, "line 3\n");
    await restarts.close();
    assert.ok(restarts.logs.some((e) => e.message === "left 1 running job(s) running for the next server to adopt"));
    assert.equal(isAlive(job.pid), true, "kept running");
    assert.ok(existsSync(job.cgroup as string), "with its cgroup");

    manager = await restarts.open({ onClose: "stop" });
    const adopted = await manager.get(job.id);
    assert.equal(adopted.state, "running");
    assert.equal(adopted.pid, job.pid);
    assert.ok(restarts.logs.some((e) => e.jobId === job.id && e.message.startsWith("adopted running job")));
    const reader = manager.output(job.id, { follow: true, stream: "stdout" })[Symbol.asyncIterator]();
    let text = "";
    while (!text.includes("line 40\n")) text += Buffer.from((await reader.next()).value?.data ?? []).toString();
    const stopped = await manager.stop(job.id, { graceMs: 1000, by: "admin" });
    for (let m = await reader.next(); !m.done; m = await reader.next()) text += Buffer.from(m.value.data).toString();
    const lines = text.trim().split("\n");
    assert.deepEqual(lines, lines.map((_, i) => `line ${String(i + 1)}`), "every line from the first, in order, none lost");
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.stopReason, "requested");
    assert.equal(stopped.stoppedBy, "admin");
    assert.equal(stopped.signal, undefined, "the signal that ended it is not known");
    assert.equal(stopped.exitStatusUnknownReason, "the server restarted while the job ran");
    assert.equal(stopped.endTimeApproximate, undefined);
    assert.equal(isAlive(job.pid), false);
    assert.equal(existsSync(job.cgroup as string), false);
    await restarts.close();
  });

  test("an adopted job counts against its owner's quota of running jobs until it ends", async () => {
    const restarts = new Restarts(join(dir, "quota"), { onClose: "keep" });
    let manager = await restarts.open();
    const quota = { maxRunning: 1 };
    const job = await manager.start({ program: "sleep", args: ["1000"] }, "alice", { quota, policy: "refuse" });
    await restarts.close();
    manager = await restarts.open({ onClose: "stop" });
    await assert.rejects(manager.start({ program: "true" }, "alice", { quota, policy: "refuse" }), { code: "resource_exhausted" });
    await manager.stop(job.id, { graceMs: 0 });
    const next = await manager.start({ program: "true" }, "alice", { quota, policy: "refuse" });
    assert.equal(next.owner, "alice");
    await restarts.close();
  });

  test("an adopted job's own end is seen through cgroup.events: exited, exit status unknown", async () => {
    const restarts = new Restarts(join(dir, "adopted-end"), { onClose: "keep" });
    let manager = await restarts.open();
    const flag = join(dir, "adopted-end.flag");
    const job = await manager.start({ program: "sh", args: ["-c", `while [ ! -e ${flag} ]; do sleep 0.05; done; echo done; exit 4`] }, "alice");
    await restarts.close();
    manager = await restarts.open({ onClose: "stop" });
    assert.equal((await manager.get(job.id)).state, "running");
    writeFileSync(flag, "");
    assert.equal((await followAll(manager, job.id)).stdout.toString(), "done\n", "the follow ends when the adopted job does");
    const ended = await manager.get(job.id);
    assert.equal(ended.state, "exited");
    assert.equal(ended.exitCode, undefined, "its exit code 4 went to its new parent");
    assert.equal(ended.exitStatusUnknownReason, "the server restarted while the job ran");
    await restarts.close();
  });

  test("a running job that ended while no manager ran is recorded ended: exit status unknown, end time approximate", async () => {
    const restarts = new Restarts(join(dir, "ended"), { onClose: "keep" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "sh", args: ["-c", "echo hi; exec sleep 1000"] }, "alice");
    await waitForOutput(manager, job.id, "hi");
    await restarts.close();
    writeFileSync(join(job.cgroup as string, "cgroup.kill"), "1");
    for (let i = 0; i < 200 && isAlive(job.pid); i++) await sleep(10);
    const beforeRestart = Date.now();
    manager = await restarts.open({ onClose: "stop" });
    const ended = await manager.get(job.id);
    assert.equal(ended.state, "exited");
    assert.equal(ended.exitCode, undefined);
    assert.equal(ended.signal, undefined);
    assert.equal(ended.exitStatusUnknownReason, "the server restarted while the job ran");
    assert.equal(ended.endTimeApproximate, true);
    assert.ok((ended.endedAt?.getTime() ?? 0) >= beforeRestart);
    assert.equal(existsSync(job.cgroup as string), false, "its empty cgroup is removed");
    assert.equal((await followAll(manager, job.id)).stdout.toString(), "hi\n");
    assert.ok(restarts.logs.some((e) => e.jobId === job.id && /ended while the server was down/.test(e.message)));
    await restarts.close();
  });

  test("a cgroup and an output directory that no record owns are removed at start-up; a start cut short is failed", async () => {
    const restarts = new Restarts(join(dir, "leftovers"), { onClose: "keep" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "sleep", args: ["1000"] }, "alice");
    await restarts.close();
    // As if the crash came between the spawn and the record of it: the record has no start.
    sql(restarts.dataDir, "UPDATE jobs SET started_at = NULL, pid = 0 WHERE id = ?", job.id);
    // A job cgroup with a process, and an output directory, that no record knows.
    const stray = join(dirname(job.cgroup as string), randomUUID());
    mkdirSync(stray);
    const sleeper = spawn("sleep", ["1000"], { stdio: "ignore" });
    writeFileSync(join(stray, "cgroup.procs"), String(sleeper.pid));
    const strayOutput = join(restarts.dataDir, "jobs", randomUUID());
    mkdirSync(strayOutput);
    writeFileSync(join(strayOutput, "stdout"), "old");
    manager = await restarts.open({ onClose: "stop" });
    const failed = await manager.get(job.id);
    assert.equal(failed.state, "failed");
    assert.equal(failed.failureReason, "the server stopped before the job started");
    assert.equal(isAlive(job.pid), false);
    assert.equal(existsSync(job.cgroup as string), false);
    assert.equal(existsSync(stray), false);
    assert.equal(existsSync(strayOutput), false);
    await new Promise((resolve) => (sleeper.exitCode === null && sleeper.signalCode === null ? sleeper.once("exit", resolve) : resolve(undefined)));
    assert.equal(sleeper.signalCode, "SIGKILL");
    assert.ok(restarts.logs.some((e) => e.level === "warn" && e.message.startsWith(`removed leftover job cgroup ${stray}, killing 1 process(es)`)));
    assert.ok(restarts.logs.some((e) => e.message.includes(`removed output directory ${basename(strayOutput)}`)));
    await restarts.close();
  });

  test("a state file from a newer jobexec refuses create() with a sentence naming it", async () => {
    const restarts = new Restarts(join(dir, "newer"));
    await restarts.open();
    await restarts.close();
    sql(restarts.dataDir, "PRAGMA user_version = 999");
    await assert.rejects(restarts.open(), (err: Error & { code?: string }) => err.code === "failed_precondition" && err.message.includes(join(restarts.dataDir, "state.db")));
  });

  test("stateFile ':memory:' keeps nothing: the next manager starts empty and removes the old output", async () => {
    const restarts = new Restarts(join(dir, "memory"), { stateFile: ":memory:" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "true" }, "alice");
    await followAll(manager, job.id);
    await restarts.close();
    manager = await restarts.open();
    assert.deepEqual(await manager.list(), []);
    assert.equal(existsSync(join(restarts.dataDir, "jobs", job.id)), false);
    await restarts.close();
  });
});

describe("restart, unconfined", { timeout }, () => {
  let dir: string;
  before(async () => {
    dir = await reachableTempDir("jobexec-core-restart-unconfined-");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a job whose pid and start time match is adopted and stopped through its process group", async () => {
    const restarts = new Restarts(join(dir, "adopt"), { unconfined: true, onClose: "keep" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "sh", args: ["-c", "sleep 1000 & echo $!; wait"] }, "alice");
    await waitForOutput(manager, job.id, "\n");
    const child = Number((await collect(manager.output(job.id))).stdout.toString());
    await restarts.close();
    manager = await restarts.open({ onClose: "stop" });
    assert.equal((await manager.get(job.id)).state, "running");
    const stopped = await manager.stop(job.id, { graceMs: 500 });
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.exitStatusUnknownReason, "the server restarted while the job ran");
    assert.equal(isAlive(job.pid), false);
    assert.equal(isAlive(child), false);
    await restarts.close();
  });

  test("a recycled pid (a live process with another start time) is never adopted or signalled", async () => {
    const restarts = new Restarts(join(dir, "recycled"), { unconfined: true, onClose: "keep" });
    let manager = await restarts.open();
    const job = await manager.start({ program: "sleep", args: ["1000"] }, "alice");
    await restarts.close();
    // The pid now names "another" process: the one recorded started at another time.
    sql(restarts.dataDir, "UPDATE jobs SET pid_start_ticks = pid_start_ticks - 1 WHERE id = ?", job.id);
    try {
      manager = await restarts.open({ onClose: "stop" });
      const ended = await manager.get(job.id);
      assert.equal(ended.state, "exited");
      assert.equal(ended.exitStatusUnknownReason, "the server restarted while the job ran");
      assert.equal(ended.endTimeApproximate, true);
      assert.deepEqual(await manager.stop(job.id), ended, "nothing to stop");
      await restarts.close();
      assert.equal(isAlive(job.pid), true, "the process that has the pid now was left alone");
    } finally {
      spawnSync("kill", ["-KILL", String(job.pid)]);
    }
  });
});

test("process start ticks are read from /proc/PID/stat field 22, for a command name with spaces and parentheses", async () => {
  const { processStartTicks } = await import("./process-start.ts");
  const proc = await mkdtemp(join(tmpdir(), "jobexec-proc-"));
  try {
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(proc, "42"));
    const fields = ["S", ...Array.from({ length: 18 }, (_, i) => String(i + 4)), "987654", "23"];
    writeFileSync(join(proc, "42", "stat"), `42 (a (b) c) ${fields.join(" ")}\n`);
    assert.equal(processStartTicks(42, proc), 987654);
    writeFileSync(join(proc, "42", "stat"), `42 (z) Z ${fields.slice(1).join(" ")}\n`);
    assert.equal(processStartTicks(42, proc), undefined, "a zombie runs nothing");
    assert.equal(processStartTicks(43, proc), undefined);
    assert.equal(processStartTicks(process.pid), Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ")[19]));
  } finally {
    await rm(proc, { recursive: true, force: true });
  }
});
