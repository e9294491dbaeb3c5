// The queue through a real JobManager: real processes, a real SQLite state file, closed and opened again.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { JobManager } from "../job-manager.ts";
import { followAll, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { Job, ManagerOptions } from "../types.ts";

const timeout = 120_000;

describe("the queue", { timeout }, () => {
  let dir: string;
  before(async () => {
    // Writable by the jobs' accounts: their jobs append to logs here.
    dir = await reachableTempDir("jobexec-queue-", 0o777);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const open = (name: string, options: Partial<ManagerOptions> = {}): Promise<JobManager> =>
    JobManager.create({ dataDir: join(dir, name), cgroupParent: uniqueParent(), standby: 0, ...options });

  /** Resolves once `id` left the queue and ended. */
  async function ended(manager: JobManager, id: string): Promise<Job> {
    await followAll(manager, id);
    return manager.get(id);
  }

  test("past the host's running limit jobs queue with position and reason, then run in order (priority first) as slots free", async () => {
    const manager = await open("order", { queue: { maxRunning: 1, names: { maxRunning: "--max-running" } } });
    try {
      const first = await manager.start({ program: "sleep", args: ["30"] }, "alice");
      assert.equal(first.state, "running");
      assert.equal(first.queue, undefined);
      const log = join(dir, "order.log");
      const queued: Job[] = [];
      for (const [name, priority] of [["a", 0], ["b", 0], ["c", 5]] as const) {
        queued.push(await manager.start({ program: "sh", args: ["-c", `echo ${name} >> ${log}; echo out-${name}`] }, "alice", { priority }));
      }
      assert.deepEqual(queued.map((j) => j.state), ["queued", "queued", "queued"]);
      assert.deepEqual(queued.map((j) => j.pid), [0, 0, 0]);
      assert.equal(queued[0]?.cgroup, undefined);
      assert.deepEqual(queued[0]?.queue, { position: 1, reason: "host: 1 jobs running (--max-running)" });
      const now = await Promise.all(queued.map((j) => manager.get(j.id)));
      assert.deepEqual(now.map((j) => j.queue?.position), [2, 3, 1], "priority 5 goes first, then first come first served");
      assert.equal(now[2]?.priority, 5);
      assert.deepEqual((await manager.list({ states: ["queued"] })).map((j) => j.id).sort(), queued.map((j) => j.id).sort());
      // A follower of a queued job waits for it to run and gets its output.
      const following = followAll(manager, queued[0]?.id as string);
      await assert.rejects(manager.delete(queued[0]?.id as string), { code: "failed_precondition", message: `job ${queued[0]?.id} is queued: stop it first` });
      await manager.stop(first.id, { graceMs: 0 });
      assert.equal((await following).stdout.toString(), "out-a\n");
      for (const job of queued) assert.equal((await ended(manager, job.id)).state, "exited");
      assert.equal(await readFile(log, "utf8"), "c\na\nb\n");
    } finally {
      await manager.close();
    }
  });

  test("a queued job whose program is gone at its admission ends failed, saying so (though resolved ahead of it)", async () => {
    const manager = await open("gone", { queue: { maxRunning: 1 } });
    try {
      const program = join(dir, "gone.sh");
      await writeFile(program, "#!/bin/sh\necho ran\n", { mode: 0o755 });
      const first = await manager.start({ program: "sleep", args: ["30"] }, "alice");
      const queued = await manager.start({ program }, "alice");
      assert.equal(queued.state, "queued");
      // Its account and spec are resolved ahead while it is next; the removal comes after that.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await rm(program);
      await manager.stop(first.id, { graceMs: 0 });
      const job = await ended(manager, queued.id);
      assert.equal(job.state, "failed");
      assert.match(job.failureReason ?? "", /^cannot start the queued job: program ".*gone\.sh" not found/);
    } finally {
      await manager.close();
    }
  });

  test("a user at their quota queues while another user starts at once; policy refuse is resource_exhausted", async () => {
    const manager = await open("fair");
    try {
      const quota = { maxRunning: 1, name: "--max-running-per-user" };
      const running = await manager.start({ program: "sleep", args: ["30"] }, "alice", { quota });
      const waiting = await manager.start({ program: "true" }, "alice", { quota });
      assert.equal(waiting.state, "queued");
      assert.equal(waiting.queue?.reason, "slot: alice has 1 running (--max-running-per-user)");
      await assert.rejects(manager.start({ program: "true" }, "alice", { quota, policy: "refuse" }), {
        code: "resource_exhausted",
        message: "alice already has 1 running jobs, the limit of 1 running jobs per identity (--max-running-per-user): stop one or wait for one to end",
      });
      const bob = await manager.start({ program: "sleep", args: ["30"] }, "bob", { quota });
      assert.equal(bob.state, "running");
      // Cancel: stopped at once, never ran, by whom.
      const cancelled = await manager.stop(waiting.id, { by: "alice" });
      assert.equal(cancelled.state, "stopped");
      assert.equal(cancelled.stopReason, "cancelled");
      assert.equal(cancelled.stoppedBy, "alice");
      assert.equal(cancelled.pid, 0);
      assert.equal(cancelled.account, undefined);
      assert.equal((await manager.stop(waiting.id)).stopReason, "cancelled", "stopping it again returns it unchanged");
      await manager.stop(running.id, { graceMs: 0 });
      await manager.stop(bob.id, { graceMs: 0 });
      assert.equal((await manager.get(waiting.id)).state, "stopped", "a cancelled job never starts");
    } finally {
      await manager.close();
    }
  });

  test("capacities: a request over one is failed_precondition naming it; bad priorities and policies are invalid_argument; the queue's bounds hold", async () => {
    const manager = await open("caps", { queue: { maxRunning: 1, memoryCapacityBytes: 1024 ** 3, cpuCapacity: 1, maxQueuedPerUser: 1, maxQueued: 2, names: { memoryCapacityBytes: "--memory-capacity", cpuCapacity: "--cpu-capacity", maxQueuedPerUser: "--max-queued-per-user", maxQueued: "--max-queued" } } });
    try {
      await assert.rejects(manager.start({ program: "true", limits: { memoryMaxBytes: 2 * 1024 ** 3 } }, "alice"), {
        code: "failed_precondition",
        message: "limits.memoryMaxBytes 2 GiB is more than the host's memory capacity of 1 GiB (--memory-capacity): the job could never start",
      });
      await assert.rejects(manager.start({ program: "true", limits: { cpu: 1.5 } }, "alice"), { code: "failed_precondition", message: /limits\.cpu 1\.5 is more than the host's CPU capacity of 1 \(--cpu-capacity\)/ });
      await assert.rejects(manager.start({ program: "true" }, "alice", { priority: 1001 }), { code: "invalid_argument", message: "priority must be a whole number from -1000 to 1000" });
      await assert.rejects(manager.start({ program: "true" }, "alice", { policy: "later" as "queue" }), { code: "invalid_argument" });
      const running = await manager.start({ program: "sleep", args: ["30"] }, "alice");
      const a = await manager.start({ program: "true" }, "alice");
      await assert.rejects(manager.start({ program: "true" }, "alice"), { code: "resource_exhausted", message: "alice already has 1 queued jobs, the limit per identity (--max-queued-per-user): wait for some to start or stop some" });
      const b = await manager.start({ program: "true" }, "bob");
      await assert.rejects(manager.start({ program: "true" }, "carol"), { code: "resource_exhausted", message: "the queue holds 2 jobs, its limit (--max-queued): wait for some to start" });
      await assert.rejects(manager.start({ program: "true" }, "carol", { policy: "refuse" }), { code: "resource_exhausted", message: "the job cannot start now (host: 1 jobs running (maxRunning)) and its request asks not to queue" });
      await manager.stop(running.id, { graceMs: 0 });
      assert.equal((await ended(manager, a.id)).state, "exited");
      assert.equal((await ended(manager, b.id)).state, "exited");
    } finally {
      await manager.close();
    }
  });

  test("queued jobs survive a close and open of the manager: same order, environment kept, each started once", async () => {
    const options = { queue: { maxRunning: 1 } };
    let manager = await open("restart", options);
    const running = await manager.start({ program: "sleep", args: ["30"] }, "alice");
    const queued: Job[] = [];
    for (let i = 0; i < 4; i++) {
      queued.push(await manager.start({ program: "sh", args: ["-c", 'echo "$N"'], env: { N: String(i) } }, i % 2 === 0 ? "alice" : "bob"));
    }
    await manager.close();
    manager = await open("restart", options);
    try {
      assert.equal((await manager.get(running.id)).stopReason, "server_shutdown");
      // The slot is free now: the queue drains, one at a time, oldest first as users tie.
      const outputs = await Promise.all(queued.map(async (job) => (await followAll(manager, job.id)).stdout.toString()));
      assert.deepEqual(outputs, ["0\n", "1\n", "2\n", "3\n"]);
      const done = await Promise.all(queued.map((job) => manager.get(job.id)));
      assert.deepEqual(done.map((j) => j.state), ["exited", "exited", "exited", "exited"]);
      const starts = done.map((j) => j.startedAt?.getTime() ?? 0);
      assert.deepEqual([...starts].sort((x, y) => x - y), starts, "started in their order");
    } finally {
      await manager.close();
    }
  });

  test("a job admitted but not started when its manager died is queued again when nothing shows it ran, and runs once", async (t) => {
    const options = { queue: { maxRunning: 1 }, onClose: "keep" as const };
    let manager = await open("unstarted", options);
    const parent = manager.cgroups.parent;
    if (parent === undefined) return t.skip("no cgroup v2 on this host");
    const blocker = await manager.start({ program: "sleep", args: ["30"] }, "alice");
    const never = await manager.start({ program: "echo", args: ["never-spawned"] }, "alice");
    const made = await manager.start({ program: "echo", args: ["files-made"] }, "alice");
    await manager.close();
    // What markAdmitted leaves before the spawn: the row says running, no start time, its request and cgroup kept.
    // For one, the output directory and its (empty, never charged) cgroup were made too: the manager died between
    // those and the spawn.
    const cgroup = join(parent, made.id);
    const db = new DatabaseSync(join(dir, "unstarted", "state.db"));
    db.prepare("UPDATE jobs SET state = 'running' WHERE id = ?").run(never.id);
    db.prepare("UPDATE jobs SET state = 'running', cgroup = ? WHERE id = ?").run(cgroup, made.id);
    db.close();
    const jobDir = join(dir, "unstarted", "jobs", made.id);
    await mkdir(jobDir);
    await mkdir(cgroup);
    manager = await open("unstarted", { ...options, onClose: "stop" });
    t.after(() => manager.close());
    assert.deepEqual([(await manager.get(never.id)).state, (await manager.get(made.id)).state], ["queued", "queued"]);
    assert.equal(existsSync(cgroup), false, "what was made for it is removed before it queues again");
    assert.equal(existsSync(jobDir), false);
    await manager.stop(blocker.id, { graceMs: 0 });
    assert.equal((await followAll(manager, never.id)).stdout.toString(), "never-spawned\n");
    assert.equal((await followAll(manager, made.id)).stdout.toString(), "files-made\n");
    assert.deepEqual([(await manager.get(never.id)).state, (await manager.get(made.id)).state], ["exited", "exited"]);
  });

  /** A job that waits for `flag` to exist, then exits with `code`. */
  const gated = (flag: string, code: number) => ({ program: "sh", args: ["-c", `while [ ! -e ${flag} ]; do sleep 0.02; done; exit ${String(code)}`] });

  test("dependencies: each condition; a failed middle job ends its dependents with its reason, nothing hangs; ended ones evaluated at once; bad ids refused", async (t) => {
    const manager = await open("deps");
    t.after(() => manager.close());
    const flag = join(dir, "deps.flag");
    const a = await manager.start(gated(flag, 3), "alice");
    const b = await manager.start({ program: "true" }, "alice", { after: [{ id: a.id, condition: "succeeded" }] });
    const c = await manager.start({ program: "echo", args: ["c ran"] }, "alice", { after: [{ id: b.id, condition: "ended" }] });
    const d = await manager.start({ program: "true" }, "alice", { after: [{ id: b.id, condition: "succeeded" }] });
    const e = await manager.start({ program: "echo", args: ["e ran"] }, "alice", { after: [{ id: a.id, condition: "failed" }] });
    assert.deepEqual([b, c, d, e].map((j) => j.state), ["queued", "queued", "queued", "queued"]);
    assert.equal(b.queue?.reason, `dependency ${a.id} (required: succeeded)`);
    assert.deepEqual(b.after, [{ id: a.id, condition: "succeeded" }]);
    await assert.rejects(manager.delete(a.id), { code: "failed_precondition" });
    await writeFile(flag, "");
    assert.equal((await followAll(manager, c.id)).stdout.toString(), "c ran\n");
    assert.equal((await followAll(manager, e.id)).stdout.toString(), "e ran\n");
    const [bEnd, dEnd] = await Promise.all([manager.get(b.id), manager.get(d.id)]);
    assert.equal(bEnd.state, "failed");
    assert.equal(bEnd.failureReason, `dependency ${a.id} exited 3 (required: succeeded)`);
    assert.equal(dEnd.failureReason, `dependency ${b.id} failed to start (required: succeeded)`);
    // Ended dependencies are evaluated at once: met starts now, failed ends now.
    const now = await manager.start({ program: "true" }, "alice", { after: [{ id: a.id, condition: "ended" }] });
    assert.equal(now.state, "running");
    const never = await manager.start({ program: "true" }, "alice", { after: [{ id: a.id, condition: "succeeded" }] });
    assert.equal(never.state, "failed");
    assert.equal(never.failureReason, `dependency ${a.id} exited 3 (required: succeeded)`);
    await assert.rejects(manager.start({ program: "true" }, "alice", { after: [{ id: "6a1f0b6e-7d7c-4a44-9a4e-2d1c1c9b9f00", condition: "ended" }] }), { code: "not_found" });
    await assert.rejects(manager.start({ program: "true" }, "alice", { after: [{ id: "nope", condition: "ended" }] }), { code: "invalid_argument", message: 'after[0].id "nope" is not a job id' });
    await assert.rejects(manager.start({ program: "true" }, "alice", { after: [{ id: a.id, condition: "ok" as "ended" }] }), { code: "invalid_argument", message: "after[0].condition must be one of succeeded, ended, failed" });
    await assert.rejects(manager.start({ program: "true" }, "alice", { after: [{ id: a.id, condition: "succeeded" }], policy: "refuse" }), { code: "resource_exhausted" });
  });

  test("retention keeps a job that a queued job waits for, and removes it once none does", async (t) => {
    const manager = await open("kept", { retainMs: 0 });
    t.after(() => manager.close());
    const flag = join(dir, "kept.flag");
    const first = await manager.start({ program: "sleep", args: ["30"] }, "alice");
    const second = await manager.start(gated(flag, 0), "alice");
    const waiting = await manager.start({ program: "true" }, "alice", { after: [{ id: first.id, condition: "ended" }, { id: second.id, condition: "succeeded" }] });
    await manager.stop(first.id, { graceMs: 0 });
    // Ended, past its retention of 0 ms, but waited for: kept.
    assert.equal((await manager.get(first.id)).state, "stopped");
    await assert.rejects(manager.delete(first.id), { code: "failed_precondition", message: `job ${first.id} is a dependency of queued job ${waiting.id}: it is kept until no queued job waits for it` });
    await writeFile(flag, "");
    await followAll(manager, waiting.id);
    await assert.rejects(manager.get(first.id), { code: "not_found" });
  });

  test("retention keeps a job that a queued job waits for across a restart too", async (t) => {
    const options = { retainMs: 0, onClose: "keep" as const };
    let manager = await open("kept-restart", options);
    const flag = join(dir, "kept-restart.flag");
    const ended = await manager.start({ program: "true" }, "alice");
    const running = await manager.start(gated(flag, 0), "alice");
    // Waits for a job still running and for one that ended: that one is kept past its retention of 0 ms.
    const first = await manager.start({ program: "sleep", args: ["30"] }, "alice");
    // (The running one is adopted by the next manager: its exit status is unknown, so "ended", not "succeeded".)
    const waiting = await manager.start({ program: "true" }, "alice", { after: [{ id: first.id, condition: "ended" }, { id: running.id, condition: "ended" }] });
    await manager.stop(first.id, { graceMs: 0 });
    await manager.close();
    manager = await open("kept-restart", { ...options, onClose: "stop" });
    t.after(() => manager.close());
    assert.equal((await manager.get(first.id)).state, "stopped", "kept at the start-up's retention sweep");
    await assert.rejects(manager.get(ended.id), { code: "not_found" }, "a job nobody waits for is removed");
    // Retention of 0 ms removes the waiting job the moment it ends: its end is seen as a change.
    const end = Promise.withResolvers<Job>();
    const watching = manager.watch(undefined, (change) => {
      if (change.kind === "ended" && change.job.id === waiting.id) end.resolve(change.job);
    });
    await writeFile(flag, "");
    assert.equal((await end.promise).state, "exited");
    watching.stop();
    await assert.rejects(manager.get(first.id), { code: "not_found" });
  });

  test("not before: the job waits for its moment, across a close and open of the manager", async () => {
    const options = { queue: { maxRunning: 4 } };
    let manager = await open("later", options);
    const notBefore = new Date(Date.now() + 1500);
    const later = await manager.start({ program: "echo", args: ["later"] }, "alice", { notBefore });
    assert.equal(later.state, "queued");
    assert.equal(later.queue?.reason, `not before ${notBefore.toISOString()}`);
    assert.equal(later.notBefore?.getTime(), notBefore.getTime());
    await manager.close();
    manager = await open("later", options);
    try {
      assert.equal((await manager.get(later.id)).state, "queued");
      assert.equal((await followAll(manager, later.id)).stdout.toString(), "later\n");
      const done = await manager.get(later.id);
      assert.ok((done.startedAt?.getTime() ?? 0) >= notBefore.getTime(), "not started before its moment");
    } finally {
      await manager.close();
    }
  });
});
