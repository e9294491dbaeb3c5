// Integration: what bounds a job and the disk: output limit, timeout, retention by age and by budget, free space.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { JobManager } from "../job-manager.ts";
import { type Fixture, followAll, isAlive, openFixture, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { Job, LogEvent } from "../types.ts";

const timeout = 60_000;
const mib = 1024 * 1024;

describe("output limit", { timeout }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture();
  });
  after(() => fx.close());

  test("a job writing as fast as it can past its limit is killed, whole tree, output kept; the overshoot is small", async () => {
    const limit = 8 * mib;
    const overshoots: number[] = [];
    for (let i = 0; i < 3; i++) {
      // A background writer too: the whole tree goes.
      const job = await fx.manager.start({ program: "sh", args: ["-c", "sleep 1000 & echo $! >&2; exec head -c 4294967296 /dev/zero"], maxOutputBytes: limit }, "alice");
      const out = await followAll(fx.manager, job.id);
      const done = await fx.manager.get(job.id);
      assert.equal(done.state, "stopped");
      assert.equal(done.stopReason, "output_limit");
      assert.equal(done.signal, "SIGKILL");
      assert.equal(done.maxOutputBytes, limit);
      assert.ok(done.output.stdout >= limit, `output kept up to the limit at least (${String(done.output.stdout)})`);
      assert.equal(out.stdout.length, done.output.stdout);
      assert.equal(isAlive(Number(out.stderr.toString())), false, "the background process is killed too");
      overshoots.push(done.output.stdout + done.output.stderr - limit);
    }
    console.log(`# overshoot past an 8 MiB limit of head -c from /dev/zero: ${overshoots.map((o) => `${(o / mib).toFixed(2)} MiB`).join(", ")}`);
    // The writer would have written 4 GiB: it was stopped within a few milliseconds of crossing the limit.
    for (const o of overshoots) assert.ok(o < 256 * mib, `overshoot ${String(o)} bytes`);
    assert.ok(fx.logs.some((e) => e.level === "warn" && e.message === `job wrote more than its output limit of ${String(limit)} bytes: killing it`));
  });

  test("stdout and stderr count together; a job under its limit is untouched", async () => {
    const both = await fx.manager.start({ program: "sh", args: ["-c", "head -c 3000 /dev/zero; head -c 3000 /dev/zero >&2; exec sleep 1000"], maxOutputBytes: 5000 }, "alice");
    await followAll(fx.manager, both.id);
    assert.equal((await fx.manager.get(both.id)).stopReason, "output_limit");
    const under = await fx.manager.start({ program: "head", args: ["-c", "5000", "/dev/zero"], maxOutputBytes: 5000 }, "alice");
    await followAll(fx.manager, under.id);
    const done = await fx.manager.get(under.id);
    assert.equal(done.state, "exited");
    assert.equal(done.exitCode, 0);
  });

  test("maxOutputBytes above the manager's maximum, or not a positive whole number, is invalid_argument", async () => {
    for (const maxOutputBytes of [2 * 1024 ** 3, 0, -1, 1.5]) {
      await assert.rejects(fx.manager.start({ program: "true", maxOutputBytes }, "alice"), { code: "invalid_argument" }, String(maxOutputBytes));
    }
    assert.equal((await fx.manager.start({ program: "true" }, "alice")).maxOutputBytes, 1024 ** 3, "the default is the maximum, 1 GiB");
  });
});

describe("timeout", { timeout }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture({ defaultGraceMs: 300 });
  });
  after(() => fx.close());

  test("a job running past its timeout is stopped like stop() (SIGTERM, grace, kill) and recorded as timed out", async () => {
    const started = performance.now();
    const job = await fx.manager.start({ program: "sleep", args: ["1000"], timeoutMs: 400 }, "alice");
    assert.equal(job.timeoutMs, 400);
    await followAll(fx.manager, job.id);
    const done = await fx.manager.get(job.id);
    assert.ok(performance.now() - started >= 400);
    assert.equal(done.state, "stopped");
    assert.equal(done.stopReason, "timeout");
    assert.equal(done.signal, "SIGTERM");
    assert.equal(done.stoppedBy, undefined);
    // SIGTERM ignored from sleep's first instruction (env sets it before exec); the timeout leaves cgexec, a Node
    // program that SIGTERM would end, ample time to have exec'd on a loaded machine.
    const stubborn = await fx.manager.start({ program: "env", args: ["--ignore-signal=TERM", "sleep", "1000"], timeoutMs: 2000 }, "alice");
    await followAll(fx.manager, stubborn.id);
    const killed = await fx.manager.get(stubborn.id);
    assert.equal(killed.stopReason, "timeout");
    assert.equal(killed.signal, "SIGKILL", "killed after the grace period");
    const quick = await fx.manager.start({ program: "true", timeoutMs: 10_000 }, "alice");
    await followAll(fx.manager, quick.id);
    assert.equal((await fx.manager.get(quick.id)).state, "exited");
  });

  test("maxTimeoutMs is the ceiling and the timeout of jobs that set none", async () => {
    const dataDir = await reachableTempDir("jobexec-core-timeout-");
    const manager = await JobManager.create({ dataDir, cgroupParent: uniqueParent(), maxTimeoutMs: 300, defaultGraceMs: 100 });
    try {
      await assert.rejects(manager.start({ program: "true", timeoutMs: 301 }, "alice"), { code: "invalid_argument", message: /exceeds the server's maximum of 300 ms/ });
      const job = await manager.start({ program: "sleep", args: ["1000"] }, "alice");
      assert.equal(job.timeoutMs, 300);
      await followAll(manager, job.id);
      assert.equal((await manager.get(job.id)).stopReason, "timeout");
    } finally {
      await manager.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("retention", { timeout }, () => {
  let dir: string;
  before(async () => {
    dir = await reachableTempDir("jobexec-core-retention-");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function finished(manager: JobManager, bytes = 0): Promise<Job> {
    const job = await manager.start({ program: "head", args: ["-c", String(bytes), "/dev/zero"] }, "alice");
    await followAll(manager, job.id);
    for (let i = 0; i < 100 && (await manager.get(job.id)).state === "running"; i++) await sleep(10);
    return job;
  }

  function storedIds(dataDir: string): string[] {
    const db = new DatabaseSync(join(dataDir, "state.db"), { readOnly: true });
    const ids = db.prepare("SELECT id FROM jobs").all().map((r) => String(r.id));
    db.close();
    return ids;
  }

  test("by age: a finished job is removed (record, stored row and output) once older than retainMs, and at start-up", async () => {
    const dataDir = join(dir, "age");
    const logs: LogEvent[] = [];
    const cgroupParent = uniqueParent();
    let manager = await JobManager.create({ dataDir, cgroupParent, retainMs: 700, log: (e) => logs.push(e) });
    const old = await finished(manager, 10);
    const running = await manager.start({ program: "sleep", args: ["1000"] }, "alice");
    await sleep(1000); // the expiry timer fires without any other job ending
    await assert.rejects(manager.get(old.id), { code: "not_found" });
    assert.equal(existsSync(join(dataDir, "jobs", old.id)), false);
    assert.equal(storedIds(dataDir).includes(old.id), false);
    assert.equal((await manager.get(running.id)).state, "running", "running jobs are never removed");
    assert.ok(logs.some((e) => e.jobId === old.id && e.message.startsWith("removed finished job: it ended more than the retention period")));
    const kept = await finished(manager, 10);
    await manager.close();
    await sleep(800);
    manager = await JobManager.create({ dataDir, cgroupParent, retainMs: 700 });
    try {
      assert.deepEqual(await manager.list(), [], "both expired while no manager ran: removed at start-up");
      assert.equal(existsSync(join(dataDir, "jobs", kept.id)), false);
      assert.equal(existsSync(join(dataDir, "jobs", running.id)), false);
    } finally {
      await manager.close();
    }
  });

  test("by budget: the oldest finished jobs go while the finished jobs' output takes more disk than outputBudgetBytes", async () => {
    const dataDir = join(dir, "budget");
    const kib = 1024;
    // Sizes in whole 4 KiB blocks: the budget counts what the output takes on disk.
    const manager = await JobManager.create({ dataDir, cgroupParent: uniqueParent(), maxOutputBytes: 64 * kib, outputBudgetBytes: 160 * kib });
    try {
      const jobs: Job[] = [];
      for (let i = 0; i < 3; i++) jobs.push(await finished(manager, 64 * kib));
      const ids = async (): Promise<string[]> => (await manager.list()).map((j) => j.id).reverse();
      assert.deepEqual(await ids(), [jobs[1]?.id, jobs[2]?.id], "192 KiB > 160 KiB: the oldest went");
      jobs.push(await finished(manager, 0));
      assert.deepEqual(await ids(), [jobs[1]?.id, jobs[2]?.id, jobs[3]?.id], "an empty job fits");
      jobs.push(await finished(manager, 40 * kib));
      assert.deepEqual(await ids(), [jobs[2]?.id, jobs[3]?.id, jobs[4]?.id]);
      // The output goes right after the record.
      for (let i = 0; i < 100 && existsSync(join(dataDir, "jobs", String(jobs[1]?.id))); i++) await sleep(10);
      assert.equal(existsSync(join(dataDir, "jobs", String(jobs[1]?.id))), false);
      assert.deepEqual(storedIds(dataDir).sort(), [jobs[2]?.id, jobs[3]?.id, jobs[4]?.id].sort());
    } finally {
      await manager.close();
    }
  });

  test("per user first: one user's output and records only ever remove that user's oldest jobs", async () => {
    const dataDir = join(dir, "per-user");
    const kib = 1024;
    const manager = await JobManager.create({
      dataDir,
      cgroupParent: uniqueParent(),
      maxOutputBytes: 64 * kib,
      outputBudgetPerUserBytes: 128 * kib,
      maxRecordsPerUser: 3,
    });
    try {
      const run = async (owner: string, bytes: number): Promise<string> => {
        const job = await manager.start({ program: "head", args: ["-c", String(bytes), "/dev/zero"] }, owner);
        await followAll(manager, job.id);
        return job.id;
      };
      const bob = [await run("bob", 4 * kib), await run("bob", 4 * kib)];
      const alice = [await run("alice", 64 * kib), await run("alice", 64 * kib), await run("alice", 64 * kib)];
      const ids = async (owner: string): Promise<string[]> => (await manager.list({ owner })).map((j) => j.id).reverse();
      assert.deepEqual(await ids("alice"), alice.slice(1), "192 KiB of alice's > 128 KiB: her oldest went");
      assert.deepEqual(await ids("bob"), bob, "bob's older jobs stay");
      for (let i = 0; i < 3; i++) alice.push(await run("alice", 0));
      assert.deepEqual(await ids("alice"), alice.slice(3), "more than 3 records: alice's oldest go");
      assert.deepEqual(await ids("bob"), bob);
    } finally {
      await manager.close();
    }
  });

  test("an output budget below the output limit is refused", async () => {
    await assert.rejects(JobManager.create({ dataDir: join(dir, "bad"), maxOutputBytes: 1000, outputBudgetBytes: 999 }), { code: "invalid_argument" });
  });
});

test("start() is refused with resource_exhausted while the data directory has less than minFreeBytes free", { timeout }, async () => {
  const fx = await openFixture({ minFreeBytes: Number.MAX_SAFE_INTEGER });
  try {
    await assert.rejects(fx.manager.start({ program: "true" }, "alice"), (err: Error & { code?: string }) => {
      assert.equal(err.code, "resource_exhausted");
      assert.match(err.message, new RegExp(`^the data directory ${fx.dataDir} has [\\d.]+ MiB free, less than the [\\d.]+ MiB kept free`));
      return true;
    });
    assert.deepEqual(await fx.manager.list(), [], "nothing recorded");
  } finally {
    await fx.close();
  }
});
