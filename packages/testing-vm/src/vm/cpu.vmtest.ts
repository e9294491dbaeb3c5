// cpu.max: a job spinning under `cpu: 0.2` gets about a fifth of a CPU; without a limit it gets most of one.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Job } from "@jobexec/core";
import { type ManagerFixture, finished, openManager, runSeconds, vmTestTimeout } from "./support.ts";

// A shell busy loop, stopped by timeout(1) after 3 s of wall time: pure user CPU, no start-up cost.
const spin3s = { program: "timeout", args: ["3", "sh", "-c", "while :; do :; done"] };

/** CPU time over wall time of a finished job. */
function share(job: Job): number {
  return job.usage.cpuUsageUsec / 1e6 / runSeconds(job);
}

describe("cpu limit", { timeout: vmTestTimeout }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  test("cpu 0.2: a 3 s spin uses at most ~0.25 of its wall time; unlimited, most of a CPU", async () => {
    // Both at once: the VM has 2 vCPUs, and the limited one leaves the unlimited one a whole CPU.
    const [limited, free] = await Promise.all([
      fx.manager.start({ ...spin3s, limits: { cpu: 0.2 } }, "alice").then((job) => finished(fx.manager, job.id)),
      fx.manager.start(spin3s, "alice").then((job) => finished(fx.manager, job.id)),
    ]);
    const limitedShare = share(limited.job);
    const freeShare = share(free.job);
    console.log(
      `# cpu 0.2: ${limitedShare.toFixed(3)} CPU over ${runSeconds(limited.job).toFixed(1)} s (throttled ` +
        `${(limited.job.usage.cpuThrottledUsec / 1e6).toFixed(1)} s); unlimited: ${freeShare.toFixed(3)} CPU over ${runSeconds(free.job).toFixed(1)} s`,
    );
    // timeout(1) ends the spin with SIGTERM and exits 124.
    assert.equal(limited.job.exitCode, 124, limited.stderr);
    assert.equal(free.job.exitCode, 124, free.stderr);
    assert.equal(limited.job.limits.cpu, 0.2);
    assert.ok(limitedShare <= 0.25, `limited share ${limitedShare}`);
    assert.ok(limitedShare >= 0.1, `limited share ${limitedShare}: the job should still get its fifth`);
    assert.ok(limited.job.usage.cpuThrottledUsec > 0, "cpu.stat counts throttled time");
    assert.ok(freeShare >= 0.5, `unlimited share ${freeShare}`);
    assert.ok(freeShare >= 2.5 * limitedShare, `unlimited ${freeShare} vs limited ${limitedShare}`);
  });
});
