// What a job leaves behind: memory peak, OOM kills, throttling and its usage timeline, read before its cgroup goes
// and kept in state.db, on a kernel with every controller.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { JobManager, type ManagerOptions } from "@jobexec/core";
import { finished, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;

describe("usage kept after a job's end", { timeout: vmTestTimeout * 2 }, () => {
  let dataDir: string;
  const cgroupParent = `vmtest-usage-${randomUUID().slice(0, 8)}`;
  // Cold starts only: a standby's Node start-up would be charged to the job's cgroup and blur its peak.
  const options = (): ManagerOptions => ({ dataDir, cgroupParent, standby: 0, usageSampleMs: 250 });
  let manager: JobManager;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "jobexec-vm-usage-"));
    await chmod(dataDir, 0o711);
    manager = await JobManager.create(options());
  });
  after(async () => {
    await manager.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test("a job that allocated 50 MiB and freed it reports a peak >= 50 MiB after it ended, and after a restart", async () => {
    // tail holds a line without a newline whole: 50 MiB of zeros in memory, freed when tail exits; the job goes on.
    const started = await manager.start({ program: "sh", args: ["-c", `head -c ${50 * MiB} /dev/zero | tail | wc -c; sleep 1`] }, "alice");
    const idle = await manager.start({ program: "sleep", args: ["1"] }, "alice");
    const { job, stdout } = await finished(manager, started.id);
    assert.equal(stdout.trim(), String(50 * MiB));
    assert.ok(job.usage.memoryPeakBytes >= 50 * MiB, `peak ${job.usage.memoryPeakBytes}`);
    assert.equal(job.usage.memoryCurrentBytes, 0);
    // pids.peak arrived in Linux 6.1 (absent, not 0, before).
    if (job.usage.pidsPeak !== undefined) assert.ok(job.usage.pidsPeak >= 3, `pids.peak ${job.usage.pidsPeak}`);
    assert.deepEqual(job.usage.memoryEvents, { oom: 0, oomKill: 0, high: 0, max: 0 });
    // A job that allocated nothing peaks lower: the figure is the job's, not cgexec's start-up.
    const quiet = (await finished(manager, idle.id)).job;
    console.log(`# memory.peak: ${(job.usage.memoryPeakBytes / MiB).toFixed(1)} MiB after 50 MiB held; ${(quiet.usage.memoryPeakBytes / MiB).toFixed(1)} MiB for sleep 1`);
    assert.ok(quiet.usage.memoryPeakBytes < 50 * MiB, `idle peak ${quiet.usage.memoryPeakBytes}`);
    await manager.close();
    manager = await JobManager.create(options());
    const restored = await manager.get(job.id);
    assert.equal(restored.usage.memoryPeakBytes, job.usage.memoryPeakBytes);
    assert.deepEqual(restored.usage, job.usage);
  });

  test("a job whose child was OOM-killed while its main process exited 0 reports oom_kill 1", async () => {
    // No memory limit on the job (so no memory.oom.group): the limit is its parent's, as a service's MemoryMax would
    // be. The OOM killer takes the largest process under it, the child holding the memory; the shell lives on.
    const parent = String(manager.cgroups.parent);
    writeFileSync(join(parent, "memory.max"), String(64 * MiB));
    try {
      const started = await manager.start({ program: "sh", args: ["-c", `head -c ${256 * MiB} /dev/zero | tail > /dev/null; echo "tail: $?"; exit 0`] }, "alice");
      const { job, stdout } = await finished(manager, started.id);
      assert.equal(job.exitCode, 0);
      assert.equal(stdout, "tail: 137\n");
      assert.equal(job.usage.memoryEvents?.oomKill, 1, JSON.stringify(job.usage.memoryEvents));
      assert.equal(job.oomKilled, true);
    } finally {
      writeFileSync(join(parent, "memory.max"), "max");
    }
  });

  test("a --cpu 0.2 busy loop reports throttling: periods throttled and time", async () => {
    const started = await manager.start({ program: "timeout", args: ["2", "sh", "-c", "while :; do :; done"], limits: { cpu: 0.2 } }, "alice");
    const { job } = await finished(manager, started.id);
    const { cpuPeriods = 0, cpuThrottledPeriods = 0, cpuThrottledUsec } = job.usage;
    console.log(`# cpu 0.2: ${cpuThrottledPeriods} of ${cpuPeriods} periods throttled, ${(cpuThrottledUsec / 1e6).toFixed(2)} s`);
    assert.ok(cpuThrottledPeriods > 0 && cpuThrottledPeriods <= cpuPeriods, `${cpuThrottledPeriods} of ${cpuPeriods}`);
    assert.ok(cpuThrottledUsec > 0);
    assert.ok(job.usage.pressure?.cpu !== undefined && job.usage.pressure.cpu.someAvg10 === undefined, JSON.stringify(job.usage.pressure));
  });

  test("the timeline of a job busy for 3 s, then idle for 3 s holding 40 MiB, has that shape", async () => {
    // Busy first; then tail holds 40 MiB (fed by head, which then ends) while sleep keeps the job idle.
    const script = `timeout 3 sh -c 'while :; do :; done'; (head -c ${40 * MiB} /dev/zero; sleep 3) | tail > /dev/null`;
    const started = await manager.start({ program: "sh", args: ["-c", script] }, "alice");
    const { job } = await finished(manager, started.id);
    const samples = (await manager.get(job.id, { timeline: true })).timeline?.samples ?? [];
    const start = job.startedAt?.getTime() ?? 0;
    console.log(`# timeline: ${samples.map((s) => `${((s.atMs - start) / 1000).toFixed(1)}s ${(s.cpu ?? 0).toFixed(2)} ${((s.memoryBytes ?? 0) / MiB).toFixed(0)}M`).join(", ")}`);
    // The phases are told apart by the samples themselves, not by clock offsets (a loaded host stretches them):
    // first busy with little memory, then idle holding 40 MiB.
    const busy = samples.findIndex((s) => (s.cpu ?? 0) > 0.5 && (s.memoryBytes ?? Infinity) < 20 * MiB);
    const held = samples.findIndex((s, i) => i > busy && (s.memoryBytes ?? 0) >= 40 * MiB);
    assert.ok(busy >= 0 && held > busy, `busy at ${busy}, 40 MiB held from ${held}`);
    const heldIdle = samples.slice(held).filter((s) => (s.memoryBytes ?? 0) >= 40 * MiB && (s.cpu ?? 1) < 0.1);
    // sleep 3 holds the memory for 3 s: about 12 samples at 250 ms, of which those after the fill are idle.
    assert.ok(heldIdle.length >= 4, `idle samples holding 40 MiB: ${heldIdle.length}`);
    assert.ok(samples.slice(0, held).every((s) => (s.memoryBytes ?? 0) < 40 * MiB));
  });
});
