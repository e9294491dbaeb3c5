// Integration: jobs without cgroups (as on a host without cgroup v2): process-group stop, no usage, no limits.
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { JobManager } from "../index.ts";
import { followAll, isAlive, reachableTempDir } from "../test-support/fixture.ts";

describe("unconfined jobs", { timeout: 60_000 }, () => {
  let manager: JobManager;
  let dataDir: string;
  before(async () => {
    dataDir = await reachableTempDir("jobexec-core-unconfined-");
    manager = await JobManager.create({ dataDir, unconfined: true, defaultGraceMs: 500 });
  });
  after(async () => {
    await manager.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test("status says so: mode none, no cgroup, usage unavailable", async () => {
    assert.deepEqual(manager.cgroups, { mode: "none", controllers: [] });
    const job = await manager.start({ program: "sh", args: ["-c", "echo out; echo err >&2; exit 4"] }, "alice");
    assert.equal(job.cgroup, undefined);
    const out = await followAll(manager, job.id);
    assert.equal(out.stdout.toString(), "out\n");
    assert.equal(out.stderr.toString(), "err\n");
    const done = await manager.get(job.id);
    assert.equal(done.exitCode, 4);
    assert.deepEqual(done.usage.unavailable, ["cpu", "cpu_throttling", "memory", "io", "pids"]);
  });

  test("the job still runs as its owner's dynamic account, through cgexec without a cgroup", async () => {
    const job = await manager.start({ program: "sh", args: ["-c", "id -u; grep NoNewPrivs /proc/self/status"] }, "alice");
    const out = (await followAll(manager, job.id)).stdout.toString();
    assert.equal(out, `${String(job.account?.uid)}\nNoNewPrivs:\t1\n`);
    assert.ok((job.account?.uid ?? 0) >= 61184);
  });

  test("limits are refused with failed_precondition", async () => {
    await assert.rejects(manager.start({ program: "true", limits: { pidsMax: 5 } }, "alice"), {
      code: "failed_precondition",
      message: /need cgroup v2/,
    });
  });

  test("the job's process group is killed when its main process exits, and on stop", async () => {
    const job = await manager.start({ program: "sh", args: ["-c", "sleep 1000 & echo $!"] }, "alice");
    const background = Number((await followAll(manager, job.id)).stdout.toString());
    assert.equal(isAlive(background), false);

    const tree = await manager.start({ program: "sh", args: ["-c", "trap '' TERM; sleep 1000 & echo $!; sleep 1000"] }, "alice");
    const reader = manager.output(tree.id, { follow: true })[Symbol.asyncIterator]();
    const child = Number(Buffer.from((await reader.next()).value?.data ?? []).toString());
    const stopped = await manager.stop(tree.id, { graceMs: 300 });
    await reader.return?.();
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.signal, "SIGKILL");
    assert.equal(isAlive(child), false);
  });
});
