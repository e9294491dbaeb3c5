// The queue's memory admission with real memory.max limits: reservations add up against --memory-capacity.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Job } from "@jobexec/core";
import { type ManagerFixture, finished, openManager, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;

describe("queue: memory admission", { timeout: vmTestTimeout }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager(undefined, { standby: 0, queue: { memoryCapacityBytes: 96 * MiB, names: { memoryCapacityBytes: "--memory-capacity" } } })));
  after(() => fx.close());

  test("jobs start while their memory.max fits the capacity; the next waits, naming the memory, and starts with its limit applied once memory frees", async () => {
    const sleeper = (mib?: number) => ({ program: "sleep", args: ["600"], ...(mib === undefined ? {} : { limits: { memoryMaxBytes: mib * MiB } }) });
    const first = await fx.manager.start(sleeper(64), "alice");
    assert.equal(first.state, "running");
    const big = await fx.manager.start(sleeper(64), "bob");
    assert.equal(big.state, "queued");
    assert.equal(big.queue?.reason, "memory: needs 64 MiB, 32 MiB of 96 MiB free (--memory-capacity)");
    // Smaller jobs of others pass it; a job without a limit reserves nothing.
    const small = await fx.manager.start(sleeper(16), "carol");
    const unlimited = await fx.manager.start(sleeper(), "carol");
    assert.deepEqual([small.state, unlimited.state], ["running", "running"]);
    await assert.rejects(fx.manager.start(sleeper(128), "alice"), { code: "failed_precondition", message: /more than the host's memory capacity of 96 MiB \(--memory-capacity\)/ });
    // The summary per owner (GetQueueSummary, `jobexec queue`): what each one's running jobs reserve, and the totals.
    assert.deepEqual(
      fx.manager.queueOwners().map((o) => [o.owner, o.running, o.queued, o.reservedMemoryBytes, o.next]),
      [
        ["alice", 1, 0, 64 * MiB, ""],
        ["bob", 0, 1, 0, "memory: needs 64 MiB, 16 MiB of 96 MiB free (--memory-capacity)"],
        ["carol", 2, 0, 16 * MiB, ""],
      ],
    );
    assert.deepEqual([fx.manager.queueFigures.running, fx.manager.queueFigures.reservedMemoryBytes], [3, 80 * MiB]);
    const admitted = Promise.withResolvers<Job>();
    const watching = fx.manager.watch(undefined, (change) => {
      if (change.kind === "started" && change.job.id === big.id) admitted.resolve(change.job);
    });
    await fx.manager.stop(first.id, { graceMs: 0 });
    const started = await admitted.promise;
    watching.stop();
    assert.equal(started.state, "running");
    assert.equal(readFileSync(join(started.cgroup as string, "memory.max"), "utf8").trim(), String(64 * MiB));
    for (const job of [big, small, unlimited]) await fx.manager.stop(job.id, { graceMs: 0 });
    assert.equal((await finished(fx.manager, big.id)).job.state, "stopped");
  });
});
