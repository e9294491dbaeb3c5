import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { JobSchema, JobState } from "@jobexec/proto";
import { formatStatus } from "./format-status.ts";
import { formatTimeline, sparkline, usageSummaryLines } from "./format-usage.ts";
import { jobJson } from "./job-json.ts";

const t0 = Date.parse("2026-11-23T18:00:00Z");

test("an ended job with every controller: Peak, OOM, Throttled and Pressure lines, and the same in --json", () => {
  const job = create(JobSchema, {
    id: "j", state: JobState.EXITED, exitCode: 0, oomKilled: true,
    usage: {
      cpuUsageUsec: 3_000_000n, cpuThrottledUsec: 1_250_000n, cpuPeriods: 50n, cpuThrottledPeriods: 12n, memoryPeakBytes: 52_428_800n, memorySwapPeakBytes: 0n,
      memoryEvents: { oom: 1n, oomKill: 1n, high: 0n, max: 4n }, pidsPeak: 3n,
      cpuPressure: { someTotalUsec: 1_500_000n, fullTotalUsec: 1_000_000n }, ioPressure: { someTotalUsec: 0n, fullTotalUsec: 0n },
    },
  });
  assert.deepEqual(usageSummaryLines(job), [
    ["Peak", "memory 50 MiB, swap 0 B, 3 tasks"],
    // OOM truth: the kill took another process; the main process exited normally.
    ["OOM", "1 process OOM-killed; the main process survived (exit code 0) (at memory.max 4 times)"],
    ["Throttled", "12 of 50 CPU periods, 1.3s"],
    ["Pressure", "cpu some 1.5s, full 1s; io some 0ms, full 0ms"],
  ]);
  assert.match(formatStatus(job), /\n +Peak: memory 50 MiB, swap 0 B, 3 tasks\n +OOM: 1 process OOM-killed; the main process survived \(exit code 0\)/);
  const json = jobJson(job);
  assert.deepEqual(json.usage.memoryEvents, { oom: 1, oomKill: 1, high: 0, max: 4 });
  assert.deepEqual([json.usage.cpuThrottledPeriods, json.usage.cpuPeriods, json.usage.pidsPeak, json.usage.memorySwapPeakBytes], [12, 50, 3, 0]);
  assert.deepEqual(json.usage.pressure, {
    cpu: { someTotalUsec: 1_500_000, fullTotalUsec: 1_000_000, someAvg10: null, someAvg60: null, fullAvg10: null, fullAvg60: null },
    memory: null,
    io: { someTotalUsec: 0, fullTotalUsec: 0, someAvg10: null, someAvg60: null, fullAvg10: null, fullAvg60: null },
  });
});

test("the main process killed with the rest; live pressure with its averages; no OOM at all", () => {
  const killed = create(JobSchema, { state: JobState.EXITED, signal: "SIGKILL", usage: { memoryEvents: { oom: 1n, oomKill: 2n } } });
  assert.deepEqual(usageSummaryLines(killed).find(([l]) => l === "OOM"), ["OOM", "2 processes OOM-killed; the main process was killed (SIGKILL)"]);
  const running = create(JobSchema, { state: JobState.RUNNING, usage: { memoryEvents: { high: 1n }, memoryPressure: { someTotalUsec: 20_000n, someAvg10: 2.5, someAvg60: 0.4 } } });
  assert.deepEqual(usageSummaryLines(running), [
    ["OOM", "none (over memory.high 1 time)"],
    ["Pressure", "memory some 20ms (2.50% last 10s, 0.40% last 60s)"],
  ]);
});

test("what the host does not expose leaves its line out (this host: no controllers)", () => {
  const job = create(JobSchema, { state: JobState.EXITED, exitCode: 0, usage: { cpuUsageUsec: 5n, unavailable: ["cpu_throttling", "memory", "io", "pids"] } });
  assert.deepEqual(usageSummaryLines(job), []);
  assert.doesNotMatch(formatStatus(job), /Peak|OOM|Throttled|Pressure/);
});

test("--timeline: a sparkline row per resource, scaled to its maximum; gaps stay blank", () => {
  assert.equal(sparkline([0, 0.5, 1, undefined, 0.25]), "▁▅█ ▃");
  assert.equal(sparkline([0, 0]), "▁▁");
  const timeline = {
    interval: { seconds: 5n, nanos: 0 },
    samples: [0, 1, 1, 0.5, 0].map((cpu, i) => ({ time: timestampFromMs(t0 + (i + 1) * 5000), cpu, memoryBytes: BigInt((i + 1) * 1_048_576) })),
  };
  const job = create(JobSchema, { timeline });
  assert.equal(formatTimeline(job.timeline), [
    "  Timeline: 2026-11-23 18:00:05 UTC to 2026-11-23 18:00:25 UTC (5 points, sampled every 5s)",
    "       CPU: ▁██▅▁  max 1.00 CPU",
    "    Memory: ▂▄▅▇█  max 5 MiB",
    "",
  ].join("\n"));
  assert.equal(formatTimeline(undefined), "  Timeline: none (the job had no cgroup, or the server samples no usage)\n");
  assert.deepEqual(jobJson(job).timeline?.samples[1], { time: "2026-11-23T18:00:10.000Z", cpu: 1, memoryBytes: 2_097_152 });
  assert.equal(jobJson(job).timeline?.intervalMs, 5000);
});
