import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { finalUsage, readUsage } from "./usage.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-fake-cgroup-"));
  await writeFile(join(dir, "cpu.stat"), "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 700\n");
  await writeFile(join(dir, "memory.current"), "1048576\n");
  await writeFile(join(dir, "memory.peak"), "2097152\n");
  await writeFile(join(dir, "io.stat"), "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=1 wios=1\n");
  await writeFile(join(dir, "pids.current"), "3\n");
  await writeFile(join(dir, "memory.events"), "low 0\nhigh 3\nmax 5\noom 1\noom_kill 1\noom_group_kill 0\n");
  await writeFile(join(dir, "memory.swap.peak"), "4096\n");
  await writeFile(join(dir, "pids.peak"), "7\n");
  await writeFile(join(dir, "cpu.pressure"), "some avg10=12.50 avg60=3.00 avg300=1.00 total=250000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  await writeFile(join(dir, "memory.pressure"), "some avg10=0.00 avg60=0.00 avg300=0.00 total=10\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=4\n");
});
after(() => rm(dir, { recursive: true, force: true }));

test("with every controller, every figure is read", async () => {
  assert.deepEqual(await readUsage(dir, ["cpu", "io", "memory", "pids"]), {
    cpuUsageUsec: 5000,
    cpuUserUsec: 3000,
    cpuSystemUsec: 2000,
    cpuThrottledUsec: 700,
    cpuPeriods: 10,
    cpuThrottledPeriods: 2,
    memoryCurrentBytes: 1048576,
    memoryPeakBytes: 2097152,
    memorySwapPeakBytes: 4096,
    memoryEvents: { oom: 1, oomKill: 1, high: 3, max: 5 },
    ioReadBytes: 4097,
    ioWriteBytes: 8194,
    ioReadOps: 2,
    ioWriteOps: 3,
    pidsCurrent: 3,
    pidsPeak: 7,
    pressure: {
      cpu: { someTotalUsec: 250000, someAvg10: 12.5, someAvg60: 3, fullTotalUsec: 0, fullAvg10: 0, fullAvg60: 0 },
      memory: { someTotalUsec: 10, someAvg10: 0, someAvg60: 0, fullTotalUsec: 4, fullAvg10: 0, fullAvg60: 0 },
    },
    unavailable: [],
  });
});

test("the final usage keeps totals and peaks, and drops what only means something live", async () => {
  const final = finalUsage(await readUsage(dir, ["cpu", "io", "memory", "pids"]));
  assert.equal(final.memoryCurrentBytes, 0);
  assert.equal(final.pidsCurrent, 0);
  assert.equal(final.memoryPeakBytes, 2097152);
  assert.equal(final.pidsPeak, 7);
  assert.deepEqual(final.pressure, { cpu: { someTotalUsec: 250000, fullTotalUsec: 0 }, memory: { someTotalUsec: 10, fullTotalUsec: 4 } });
});

test("without controllers, only cpu.stat's core figures and pressure; the rest listed unavailable or absent", async () => {
  const usage = await readUsage(dir, []);
  assert.equal(usage.cpuUsageUsec, 5000);
  assert.equal(usage.memoryCurrentBytes, 0);
  assert.equal(usage.pidsCurrent, 0);
  assert.deepEqual(usage.unavailable, ["memory", "io", "pids"]);
  for (const absent of ["memorySwapPeakBytes", "memoryEvents", "ioReadOps", "ioWriteOps", "pidsPeak"] as const) assert.equal(usage[absent], undefined, absent);
  assert.equal(usage.pressure?.cpu?.someTotalUsec, 250000);
  // No io.pressure file: no io entry, rather than zeros.
  assert.equal(usage.pressure?.io, undefined);
});

test("a cgroup without throttling figures (no cpu controller) lists only cpu_throttling unavailable of cpu", async () => {
  const bare = await mkdtemp(join(tmpdir(), "jobexec-fake-cgroup-"));
  await writeFile(join(bare, "cpu.stat"), "usage_usec 9\nuser_usec 4\nsystem_usec 5\n");
  const usage = await readUsage(bare, ["cpu"]);
  assert.equal(usage.cpuUsageUsec, 9);
  assert.deepEqual(usage.unavailable, ["cpu_throttling", "memory", "io", "pids"]);
  assert.equal(usage.cpuPeriods, undefined);
  assert.equal(usage.cpuThrottledPeriods, undefined);
  assert.equal(usage.pressure, undefined);
  await rm(bare, { recursive: true });
});
