// Integration: a job's usage outlives its cgroup. Real jobs on this host's cgroup v2 hierarchy (which may lack every
// controller: then CPU totals and pressure are what there is, and the rest is absent), a real SQLite state file.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { JobManager } from "../job-manager.ts";
import { followAll, openFixture, type Fixture } from "../test-support/fixture.ts";
import type { Job } from "../types.ts";

describe("usage kept at a job's end", { timeout: 120_000 }, () => {
  let fx: Fixture;
  let ended: Job;
  let live: Job;
  before(async () => {
    fx = await openFixture({ usageSampleMs: 200 });
    // Busy for 2 s, then idle for 3 s (3 lines a second apart, the last one after the "exited" wait).
    const started = await fx.manager.start({ program: jobNode, args: [slowPath, "3", "--spin", "2", "--interval", "1000"] }, "alice");
    const follow = followAll(fx.manager, started.id);
    // A second into the spin: the live timeline already has points.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    live = await fx.manager.get(started.id, { timeline: true });
    await follow;
    ended = await fx.manager.get(started.id, { timeline: true });
  });
  after(() => fx.close());

  test("the host's figures are read; what it does not expose is absent, never 0", () => {
    assert.equal(ended.state, "exited");
    assert.ok(ended.usage.cpuUsageUsec >= 1_000_000, `cpu ${ended.usage.cpuUsageUsec}`);
    const controllers = fx.manager.cgroups.controllers;
    if (!controllers.includes("memory")) {
      assert.ok(!("memoryEvents" in ended.usage) && !("memorySwapPeakBytes" in ended.usage), JSON.stringify(ended.usage));
      assert.equal(ended.oomKilled, false);
    }
    if (!controllers.includes("pids")) assert.ok(!("pidsPeak" in ended.usage));
    if (!controllers.includes("cpu")) assert.ok(!("cpuThrottledPeriods" in ended.usage) && ended.usage.unavailable.includes("cpu_throttling"));
  });

  test("pressure totals where the kernel has PSI: live with averages, final without", () => {
    const pressure = live.usage.pressure;
    if (pressure?.cpu === undefined) {
      assert.equal(ended.usage.pressure, undefined);
      return;
    }
    assert.equal(typeof pressure.cpu.someAvg10, "number");
    const final = ended.usage.pressure?.cpu;
    assert.ok(final !== undefined && final.someTotalUsec >= pressure.cpu.someTotalUsec, JSON.stringify(ended.usage.pressure));
    assert.equal(final.someAvg10, undefined);
    assert.equal(final.someAvg60, undefined);
  });

  test("the timeline: live while running, then busy first and idle after, returned only when asked for", async () => {
    assert.ok((live.timeline?.samples.length ?? 0) >= 1, JSON.stringify(live.timeline));
    const timeline = ended.timeline;
    assert.ok(timeline !== undefined);
    assert.equal(timeline.intervalMs, 200);
    const samples = timeline.samples;
    assert.ok(samples.length >= 10 && samples.length <= 120, String(samples.length));
    // Told apart by the samples, not by clock offsets (a loaded host delays the spin's start): busy, then idle.
    const cpu = samples.map((s) => s.cpu ?? 0);
    const lastBusy = cpu.findLastIndex((c) => c > 0.3);
    assert.ok(lastBusy >= 0, `never busy: ${cpu.join(" ")}`);
    // Idle for about 3 s after the spin, sampled every 200 ms (the last point also holds the exit).
    const idle = cpu.slice(lastBusy + 1, -1);
    assert.ok(idle.length >= 5 && idle.every((c) => c < 0.2), `after the spin: ${idle.join(" ")}`);
    assert.ok(samples.every((s) => s.memoryBytes === undefined) || fx.manager.cgroups.controllers.includes("memory"));
    assert.equal((await fx.manager.get(ended.id)).timeline, undefined);
    assert.ok((await fx.manager.list()).every((j) => j.timeline === undefined));
  });

  test("after a restart, the same final usage and timeline from state.db", async () => {
    await fx.manager.close();
    const again = await JobManager.create({ dataDir: fx.dataDir, cgroupParent: fx.cgroupParent });
    try {
      const restored = await again.get(ended.id, { timeline: true });
      assert.deepEqual(restored.usage, ended.usage);
      assert.deepEqual(restored.timeline, ended.timeline);
    } finally {
      await again.close();
    }
  });
});
