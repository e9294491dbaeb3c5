// Integration: jobs through the JobManager API on this host's real cgroup v2 hierarchy.
import assert from "node:assert/strict";
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { maxChunkBytes } from "./output/chunk-buffers.ts";
import type { Job } from "./types.ts";
import { cgroupExists, collect, type Fixture, followAll, isAlive, openFixture, reachableTempDir } from "./test-support/fixture.ts";

const timeout = 60_000;

describe("JobManager lifecycle", { timeout }, () => {
  let fx: Fixture;
  let scratch: string;
  before(async () => {
    fx = await openFixture();
    scratch = await reachableTempDir("jobexec-core-scratch-", 0o755);
  });
  after(async () => {
    await fx.close();
    await rm(scratch, { recursive: true, force: true });
  });

  test("reports the cgroup set-up it built", () => {
    assert.ok(fx.manager.cgroups.mode === "hybrid" || fx.manager.cgroups.mode === "unified");
    assert.ok(fx.manager.cgroups.parent?.endsWith(`/${fx.cgroupParent}`));
    assert.ok(cgroupExists(fx.manager.cgroups.parent));
    assert.ok(fx.logs.some((e) => e.message.includes(fx.cgroupParent)));
  });

  test("1: echo hello world gives exactly its output, then exited 0", async () => {
    const job = await fx.manager.start({ program: "echo", args: ["hello", "world"] }, "alice");
    assert.equal(job.state, "running");
    assert.equal(job.owner, "alice");
    assert.ok(job.pid > 0);
    const out = await followAll(fx.manager, job.id);
    assert.equal(out.stdout.toString(), "hello world\n");
    assert.equal(out.stderr.length, 0);
    const done = await fx.manager.get(job.id);
    assert.equal(done.state, "exited");
    assert.equal(done.exitCode, 0);
    assert.equal(done.signal, undefined);
    assert.deepEqual(done.output, { stdout: 12, stderr: 0 });
    const dir = join(fx.dataDir, "jobs", job.id);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, "stdout"))).mode & 0o777, 0o600);
    assert.ok(done.startedAt && done.endedAt && done.endedAt >= done.startedAt);
  });

  test("2: sh -c 'exit 3' is exited with code 3, not stopped", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "exit 3"] }, "alice");
    await followAll(fx.manager, job.id);
    const done = await fx.manager.get(job.id);
    assert.equal(done.state, "exited");
    assert.equal(done.exitCode, 3);
    assert.equal(done.stoppedBy, undefined);
  });

  test("5: stdout and stderr are kept apart, byte-exact", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "echo a; echo b >&2; echo c"] }, "alice");
    const out = await followAll(fx.manager, job.id);
    assert.equal(out.stdout.toString(), "a\nc\n");
    assert.equal(out.stderr.toString(), "b\n");
    assert.deepEqual((await fx.manager.get(job.id)).output, { stdout: 4, stderr: 2 });
  });

  test("5: merged mode keeps the write order in stdout", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "echo a; echo b >&2; echo c"], outputMode: "merged" }, "alice");
    const out = await followAll(fx.manager, job.id);
    assert.equal(out.stdout.toString(), "a\nb\nc\n");
    assert.equal(out.stderr.length, 0);
    assert.equal((await fx.manager.get(job.id)).outputMode, "merged");
  });

  test("7: a finished job's 3 MiB of output reads back exactly, in chunks of at most 1 MiB", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "yes 0123456789abcde | head -c 3145728"] }, "alice");
    await followAll(fx.manager, job.id);
    const expected = Buffer.from("0123456789abcde\n".repeat(3 * 65536));
    const out = await collect(fx.manager.output(job.id));
    assert.equal(out.stdout.length, 3 * 1048576);
    assert.ok(out.stdout.equals(expected));
    // Chunks are at most maxChunkBytes and their offsets are contiguous.
    let offset = 0;
    for (const chunk of out.order) {
      assert.equal(chunk.offset, offset);
      assert.ok(chunk.data.length <= maxChunkBytes);
      offset += chunk.data.length;
    }
  });

  test("10: binary output (all 256 byte values, a 100 KiB line, no final newline) is byte-exact", async () => {
    const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(100 * 1024, "x"), Buffer.from("end")]);
    const file = join(scratch, "binary");
    await writeFile(file, bytes);
    const job = await fx.manager.start({ program: "cat", args: [file] }, "alice");
    const out = await followAll(fx.manager, job.id);
    assert.ok(out.stdout.equals(bytes));
  });

  test("11: head -c 5000000 /dev/zero: every reader gets every byte", async () => {
    const job = await fx.manager.start({ program: "head", args: ["-c", "5000000", "/dev/zero"] }, "alice");
    const outs = await Promise.all([1, 2, 3].map(() => followAll(fx.manager, job.id)));
    for (const out of outs) {
      assert.equal(out.stdout.length, 5_000_000);
      assert.ok(out.stdout.every((b) => b === 0));
    }
  });

  test("12: a background child does not keep the job or its stream alive; it is killed", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "sleep 1000 & echo $!"] }, "alice");
    const out = await followAll(fx.manager, job.id);
    const background = Number(out.stdout.toString().trim());
    assert.ok(background > 0);
    const done = await fx.manager.get(job.id);
    assert.equal(done.state, "exited");
    assert.equal(done.exitCode, 0);
    assert.equal(isAlive(background), false);
    assert.equal(cgroupExists(done.cgroup), false);
  });

  test("18: the program is in its own job cgroup from its first instruction", async () => {
    const job = await fx.manager.start({ program: "cat", args: ["/proc/self/cgroup"] }, "alice");
    const out = await followAll(fx.manager, job.id);
    const line = out.stdout.toString().split("\n").find((l) => l.startsWith("0::"));
    assert.equal(line, `0::/${fx.cgroupParent}/${job.id}`);
    assert.ok(job.cgroup?.endsWith(`/${fx.cgroupParent}/${job.id}`));
  });

  test("a spinning job shows CPU usage growing while it runs", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "while :; do :; done"] }, "alice");
    await sleep(300);
    const first = await fx.manager.get(job.id);
    await sleep(500);
    const second = await fx.manager.get(job.id);
    assert.equal(second.state, "running");
    assert.ok(first.usage.cpuUsageUsec > 0, `usage ${String(first.usage.cpuUsageUsec)}`);
    assert.ok(second.usage.cpuUsageUsec > first.usage.cpuUsageUsec);
    assert.ok(second.usage.cpuUserUsec > 0);
    // This host's cgroup v2 has no controllers: those figures are reported unavailable.
    for (const c of ["memory", "io", "pids"]) {
      assert.equal(second.usage.unavailable.includes(c), !fx.manager.cgroups.controllers.includes(c));
    }
    const stopped = await fx.manager.stop(job.id, { graceMs: 1000 });
    assert.ok(stopped.usage.cpuUsageUsec >= second.usage.cpuUsageUsec, "final usage kept after the cgroup is gone");
  });

  test("the environment is the minimal base plus the spec's, exactly, even NODE_OPTIONS", async () => {
    const env = { NODE_OPTIONS: "--no-such-flag", LD_PRELOAD: "", GREETING: "hi there", PATH: "/usr/bin:/bin" };
    const job = await fx.manager.start({ program: "env", env }, "alice");
    const out = await followAll(fx.manager, job.id);
    assert.equal((await fx.manager.get(job.id)).exitCode, 0);
    const lines = out.stdout.toString().trim().split("\n").sort();
    const home = join(fx.dataDir, "homes", "alice");
    const expected = { ...env, HOME: home, USER: "alice", LOGNAME: "alice", JOBEXEC_JOB_ID: job.id } as Record<string, string>;
    for (const name of ["LANG", "LC_ALL", "TZ"]) {
      const value = process.env[name];
      if (value !== undefined) expected[name] = value;
    }
    assert.deepEqual(lines, Object.entries(expected).map(([k, v]) => `${k}=${v}`).sort());
  });

  test("without extra env the job sees the base environment", async () => {
    const job = await fx.manager.start({ program: "env" }, "alice");
    const out = await followAll(fx.manager, job.id);
    assert.ok(out.stdout.toString().includes(`JOBEXEC_JOB_ID=${job.id}\n`));
    assert.ok(out.stdout.toString().includes(`PATH=${String(process.env.PATH)}\n`));
  });

  test("cwd defaults to the owner's home and can be set; relative programs resolve against it", async () => {
    const home = await fx.manager.start({ program: "pwd" }, "alice");
    assert.equal(home.cwd, join(fx.dataDir, "homes", "alice"));
    assert.equal((await followAll(fx.manager, home.id)).stdout.toString(), `${home.cwd}\n`);
    const script = join(scratch, "hello.sh");
    await writeFile(script, "#!/bin/sh\npwd\necho \"$@\"\n");
    await chmod(script, 0o755);
    const job = await fx.manager.start({ program: "./hello.sh", args: ["a b", "c"], cwd: scratch }, "alice");
    assert.equal(job.cwd, scratch);
    assert.equal((await followAll(fx.manager, job.id)).stdout.toString(), `${scratch}\na b c\n`);
    // A relative PATH entry (and the empty one) is relative to cwd, as for execvp.
    for (const PATH of [".", ":/usr/bin"]) {
      const bare = await fx.manager.start({ program: "hello.sh", args: [PATH], cwd: scratch, env: { PATH } }, "alice");
      assert.equal((await followAll(fx.manager, bare.id)).stdout.toString(), `${scratch}\n${PATH}\n`);
    }
  });

  test("a failure after the spawn (a script with a missing interpreter) is recorded as failed; nothing is left", async () => {
    const script = join(scratch, "bad-interpreter");
    await writeFile(script, "#!/no/such/interpreter\n");
    await chmod(script, 0o755);
    const job = await fx.manager.start({ program: script }, "alice");
    assert.equal(job.state, "failed");
    assert.match(job.failureReason ?? "", /interpreter/);
    assert.equal(job.pid, 0);
    assert.equal(job.exitCode, undefined);
    assert.equal(job.startedAt, undefined);
    assert.ok(job.endedAt);
    assert.equal(cgroupExists(job.cgroup), false);
    assert.deepEqual(await fx.manager.get(job.id), job);
    assert.equal((await collect(fx.manager.output(job.id))).stdout.length, 0);
    await assert.rejects(readFile(join(fx.dataDir, "jobs", job.id, "stdout")), { code: "ENOENT" });
  });

  test("22: every finished job's cgroup is removed; list() reports jobs newest first with filters", async () => {
    const a = await fx.manager.start({ program: "true" }, "carol");
    const b = await fx.manager.start({ program: "false" }, "dave");
    await Promise.all([followAll(fx.manager, a.id), followAll(fx.manager, b.id)]);
    const all = await fx.manager.list();
    assert.equal(all[0]?.id, b.id);
    assert.equal(all[1]?.id, a.id);
    for (const job of all) {
      if (job.state !== "running") assert.equal(cgroupExists(job.cgroup), false, `${job.id} ${job.state}`);
    }
    assert.deepEqual((await fx.manager.list({ owner: "carol" })).map((j) => j.id), [a.id]);
    assert.deepEqual((await fx.manager.list({ owner: "dave", states: ["exited"] })).map((j) => j.exitCode), [1]);
    assert.deepEqual(await fx.manager.list({ owner: "dave", states: ["running"] }), []);
  });

  test("list() pages by seq: limit and olderThan walk every job once, newest first, while jobs are added", async () => {
    const owner = "pager";
    const started: Job[] = [];
    for (let i = 0; i < 5; i++) started.push(await fx.manager.start({ program: "true" }, owner));
    assert.ok(started.every((job, i) => i === 0 || job.seq > (started[i - 1]?.seq ?? Infinity)), "seq grows");
    const seen: string[] = [];
    let olderThan: number | undefined;
    for (;;) {
      const page = await fx.manager.list({ owner, limit: 2, ...(olderThan === undefined ? {} : { olderThan }) });
      if (page.length === 0) break;
      assert.ok(page.length <= 2);
      seen.push(...page.map((j) => j.id));
      olderThan = page.at(-1)?.seq;
      await fx.manager.start({ program: "true" }, owner); // newer than every page: never in a later one
    }
    assert.deepEqual(seen, started.map((j) => j.id).reverse());
    for (const bad of [{ limit: 0 }, { limit: 1.5 }, { olderThan: -1 }]) {
      await assert.rejects(fx.manager.list(bad), { name: "JobError", code: "invalid_argument" });
    }
  });

  test("list() stays in seq order when overlapping starts finish out of order: pages repeat and skip nothing", async () => {
    const owner = "overlap";
    // Thirty overlapping starts: their spawns settle in whatever order, not the order their seqs were given in.
    const started = await Promise.all(Array.from({ length: 30 }, (_, i) => fx.manager.start({ program: i % 7 === 0 ? "sh" : "true", args: i % 7 === 0 ? ["-c", "sleep 0.2"] : [] }, owner)));
    const bySeq = started.toSorted((a, b) => b.seq - a.seq).map((j) => j.id);
    assert.deepEqual((await fx.manager.list({ owner })).map((j) => j.id), bySeq);
    const seen: string[] = [];
    let olderThan: number | undefined;
    for (;;) {
      const page = await fx.manager.list({ owner, limit: 4, ...(olderThan === undefined ? {} : { olderThan }) });
      if (page.length === 0) break;
      seen.push(...page.map((j) => j.id));
      olderThan = page.at(-1)?.seq;
    }
    assert.deepEqual(seen, bySeq);
  });
});

describe("JobManager delete", { timeout }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture();
  });
  after(() => fx.close());

  test("an ended job's record and output are removed; its id is then unknown", async () => {
    const job = await fx.manager.start({ program: "echo", args: ["bye"] }, "alice");
    await followAll(fx.manager, job.id);
    const dir = join(fx.dataDir, "jobs", job.id);
    assert.equal((await stat(dir)).isDirectory(), true);
    const deleted = await fx.manager.delete(job.id);
    assert.equal(deleted.id, job.id);
    assert.equal(deleted.state, "exited");
    await assert.rejects(stat(dir), { code: "ENOENT" });
    await assert.rejects(fx.manager.get(job.id), { name: "JobError", code: "not_found" });
    await assert.rejects(fx.manager.delete(job.id), { name: "JobError", code: "not_found" });
    assert.equal((await fx.manager.list()).some((j) => j.id === job.id), false);
  });

  test("a running job is failed_precondition and keeps running", async () => {
    const job = await fx.manager.start({ program: "sleep", args: ["1000"] }, "alice");
    await assert.rejects(fx.manager.delete(job.id), { name: "JobError", code: "failed_precondition" });
    assert.equal((await fx.manager.get(job.id)).state, "running");
    assert.equal(isAlive(job.pid), true);
    await fx.manager.stop(job.id, { graceMs: 0 });
    assert.equal((await fx.manager.delete(job.id)).state, "stopped");
  });

  test("a malformed id is invalid_argument", async () => {
    await assert.rejects(fx.manager.delete("nope"), { name: "JobError", code: "invalid_argument" });
  });
});

describe("JobManager close", { timeout }, () => {
  test("22: close() kills running jobs, removes their cgroups, output and the sub-tree", async () => {
    const fx = await openFixture({ defaultGraceMs: 500 });
    const jobs = await Promise.all([
      fx.manager.start({ program: "sleep", args: ["1000"] }, "alice"),
      fx.manager.start({ program: "sh", args: ["-c", "trap '' TERM; sleep 1000 & sleep 1000"] }, "alice"),
    ]);
    const parent = fx.manager.cgroups.parent;
    await fx.manager.close();
    for (const job of jobs) {
      assert.equal(isAlive(job.pid), false);
      assert.equal(cgroupExists(job.cgroup), false);
    }
    assert.equal(cgroupExists(parent), false);
    assert.deepEqual(await fx.manager.list().then((l) => l.map((j) => j.state).sort()), ["stopped", "stopped"]);
    await assert.rejects(fx.manager.start({ program: "true" }, "alice"), { code: "failed_precondition" });
    await fx.close(); // idempotent
  });
});
