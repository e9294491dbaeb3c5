// Integration: stopping jobs: SIGTERM, grace, cgroup.kill, idempotence, whole trees.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { cgroupExists, type Fixture, followAll, isAlive, openFixture } from "../test-support/fixture.ts";

function procs(cgroupDir: string): number[] {
  return readFileSync(join(cgroupDir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
}

/** Waits until the job's cgroup holds `count` processes (its shell has forked), the job's monitor among them. */
async function waitForProcs(cgroupDir: string, count: number): Promise<number[]> {
  for (;;) {
    const pids = procs(cgroupDir);
    if (pids.length >= count) return pids;
    await sleep(10);
  }
}

describe("stop", { timeout: 60_000 }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture();
  });
  after(() => fx.close());

  test("14: stop sleep 1000: stopped by SIGTERM well within grace + 1 s; open readers end", async () => {
    const job = await fx.manager.start({ program: "sleep", args: ["1000"] }, "alice");
    const reading = followAll(fx.manager, job.id);
    const started = performance.now();
    const stopped = await fx.manager.stop(job.id, { graceMs: 2000, by: "admin" });
    const elapsed = performance.now() - started;
    console.log(`# stop of sleep 1000 took ${elapsed.toFixed(1)} ms`);
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.signal, "SIGTERM");
    assert.equal(stopped.exitCode, undefined);
    assert.equal(stopped.stoppedBy, "admin");
    assert.ok(elapsed < 3000, `took ${String(elapsed)} ms`);
    assert.equal((await reading).stdout.length, 0);
    assert.equal(isAlive(job.pid), false);
    assert.equal(cgroupExists(job.cgroup), false);
  });

  test("15: a job ignoring SIGTERM is killed after the grace period", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "trap '' TERM; echo ready; sleep 1000"] }, "alice");
    await waitForProcs(job.cgroup as string, 3);
    const started = performance.now();
    const stopping = fx.manager.stop(job.id, { graceMs: 600, by: "bob" });
    // Until it has ended, the job is running with the stop under way in its snapshot.
    const during = await fx.manager.get(job.id);
    assert.equal(during.state, "running");
    assert.equal(during.stopping?.reason, "requested");
    assert.equal(during.stopping.requestedBy, "bob");
    assert.equal(during.stopping.killAt.getTime() - during.stopping.beganAt.getTime(), 600);
    const stopped = await stopping;
    const elapsed = performance.now() - started;
    assert.equal(stopped.stopping, undefined, "no stop under way once it ended");
    console.log(`# stop of a TERM-ignoring job with 600 ms grace took ${elapsed.toFixed(1)} ms`);
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.signal, "SIGKILL");
    assert.ok(elapsed >= 550, `killed before the grace period ended (${String(elapsed)} ms)`);
    assert.equal(cgroupExists(job.cgroup), false);
  });

  test("16: a second stop, concurrent stops and a stop of a finished job return the same status", async () => {
    const job = await fx.manager.start({ program: "sleep", args: ["1000"] }, "alice");
    const [a, b] = await Promise.all([fx.manager.stop(job.id, { by: "first" }), fx.manager.stop(job.id, { by: "second" })]);
    assert.deepEqual(a, b);
    assert.equal(a.stoppedBy, "first", "the concurrent stop joined the first one");
    assert.deepEqual(await fx.manager.stop(job.id, { by: "third" }), a);
    assert.deepEqual(await fx.manager.get(job.id), a);

    const finished = await fx.manager.start({ program: "true" }, "alice");
    await followAll(fx.manager, finished.id);
    const status = await fx.manager.get(finished.id);
    assert.equal(status.state, "exited");
    assert.deepEqual(await fx.manager.stop(finished.id, { by: "late" }), status);
  });

  test("17: stopping sh -c 'sleep 1000 & sleep 1000' leaves no process; the cgroup is emptied and removed", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "sleep 1000 & sleep 1000"] }, "alice");
    const cgroup = job.cgroup as string;
    const pids = await waitForProcs(cgroup, 4);
    const stopped = await fx.manager.stop(job.id, { graceMs: 2000 });
    assert.equal(stopped.state, "stopped");
    for (const pid of pids) assert.equal(isAlive(pid), false, `pid ${String(pid)} survived`);
    assert.equal(cgroupExists(cgroup), false);
  });

  test("stop without `by` records no stopper; an aborted stop call rejects but the stop goes on", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "trap '' TERM; sleep 1000"] }, "alice");
    await waitForProcs(job.cgroup as string, 3);
    const cancel = new AbortController();
    const waiting = fx.manager.stop(job.id, { graceMs: 300, signal: cancel.signal });
    cancel.abort();
    await assert.rejects(waiting, { code: "failed_precondition" });
    const stopped = await fx.manager.stop(job.id);
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.stoppedBy, undefined);
    assert.equal(stopped.signal, "SIGKILL");
  });

  test("a stop with zero grace kills at once", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", "trap '' TERM; sleep 1000"] }, "alice");
    await waitForProcs(job.cgroup as string, 3);
    const stopped = await fx.manager.stop(job.id, { graceMs: 0 });
    assert.equal(stopped.signal, "SIGKILL");
  });
});
