// memory.max: a job allocating past its limit is OOM-killed, and the status says so.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ManagerFixture, finished, openManager, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;
/** tail keeps a line without a newline whole: MIB MiB of zeros are held in memory at once. */
function allocate(mib: number): string {
  return `head -c ${mib * MiB} /dev/zero | tail | wc -c`;
}

describe("memory limit", { timeout: vmTestTimeout, concurrency: true }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  test("32 MiB limit, 256 MiB allocation: the job is killed by SIGKILL and reported OOM-killed", async () => {
    const started = await fx.manager.start({ program: "sh", args: ["-c", allocate(256)], limits: { memoryMaxBytes: 32 * MiB } }, "alice");
    assert.equal(started.limits.memoryMaxBytes, 32 * MiB);
    const { job, stdout } = await finished(fx.manager, started.id);
    assert.equal(job.state, "exited");
    // memory.oom.group: the shell dies with tail, so the job itself ends by SIGKILL.
    assert.equal(job.signal, "SIGKILL");
    assert.equal(job.exitCode, undefined);
    assert.equal(job.oomKilled, true);
    assert.equal(stdout, "");
    assert.ok(job.usage.memoryPeakBytes > 0 && job.usage.memoryPeakBytes <= 32 * MiB, `peak ${job.usage.memoryPeakBytes}`);
  });

  test("an allocation within its limit (64 of 128 MiB) completes and is not reported OOM-killed", async () => {
    // Smaller than the OOM case: under TCG, moving 256 MiB through a pipe takes a minute.
    const started = await fx.manager.start({ program: "sh", args: ["-c", allocate(64)], limits: { memoryMaxBytes: 128 * MiB } }, "alice");
    const { job, stdout, stderr } = await finished(fx.manager, started.id);
    assert.equal(job.exitCode, 0, stderr);
    assert.equal(job.oomKilled, false);
    assert.equal(stdout.trim(), String(64 * MiB));
    assert.ok(job.usage.memoryPeakBytes >= 64 * MiB, `peak ${job.usage.memoryPeakBytes}`);
  });
});
