// pids.max: forks beyond the limit fail, the job stays contained, stop removes everything.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ManagerFixture, cgroupProcs, openManager, processesMatching, stdoutUntil, vmTestTimeout } from "./support.ts";

// The loop runs in a subshell: when a fork fails, dash ends that subshell, and the job goes on.
const fork100 = "(i=0; while [ $i -lt 100 ]; do sleep 7401 & i=$((i+1)); done) 2>/dev/null; echo loop-ended; exec sleep 7400";

describe("pids limit", { timeout: vmTestTimeout }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  test("pids.max 20, a job forking 100: forks fail, every process stays in the job's cgroup, stop cleans up", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", fork100], limits: { pidsMax: 20 } }, "alice");
    assert.equal(job.limits.pidsMax, 20);
    const cgroup = job.cgroup;
    assert.ok(cgroup);
    await stdoutUntil(fx.manager, job.id, "loop-ended");

    const running = await fx.manager.get(job.id);
    assert.equal(running.state, "running");
    const inCgroup = cgroupProcs(cgroup);
    const sleepers = processesMatching("sleep 7401");
    assert.ok(inCgroup.length <= 20 && inCgroup.length >= 10, `${inCgroup.length} processes in the cgroup`);
    assert.ok(sleepers.length < 100, `${sleepers.length} sleepers: some forks must have failed`);
    assert.ok(sleepers.every((pid) => inCgroup.includes(pid)), "every sleeper is inside the job's cgroup");
    assert.ok(running.usage.pidsCurrent <= 20, `pids.current ${running.usage.pidsCurrent}`);
    const refused = /^max (\d+)$/m.exec(readFileSync(join(cgroup, "pids.events"), "utf8"));
    assert.ok(Number(refused?.[1]) > 0, "pids.events counts the refused forks");

    const stopped = await fx.manager.stop(job.id, { graceMs: 1000 });
    assert.equal(stopped.state, "stopped");
    assert.deepEqual(processesMatching("sleep 740"), []);
    assert.equal(existsSync(cgroup), false, "the job's cgroup is removed");
  });
});
