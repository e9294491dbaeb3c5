import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readUsage, wasOomKilled } from "./usage.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "jobexec-fake-cgroup-"));
  await writeFile(join(dir, "cpu.stat"), "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 700\n");
  await writeFile(join(dir, "memory.current"), "1048576\n");
  await writeFile(join(dir, "memory.peak"), "2097152\n");
  await writeFile(join(dir, "io.stat"), "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:0 rbytes=1 wbytes=2 rios=1 wios=1\n");
  await writeFile(join(dir, "pids.current"), "3\n");
  await writeFile(join(dir, "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 0\n");
});
after(() => rm(dir, { recursive: true, force: true }));

test("with every controller, every figure is read", async () => {
  assert.deepEqual(await readUsage(dir, ["cpu", "io", "memory", "pids"]), {
    cpuUsageUsec: 5000,
    cpuUserUsec: 3000,
    cpuSystemUsec: 2000,
    cpuThrottledUsec: 700,
    memoryCurrentBytes: 1048576,
    memoryPeakBytes: 2097152,
    ioReadBytes: 4097,
    ioWriteBytes: 8194,
    pidsCurrent: 3,
    unavailable: [],
  });
});

test("without controllers, only cpu.stat's core figures; the rest listed unavailable", async () => {
  const usage = await readUsage(dir, []);
  assert.equal(usage.cpuUsageUsec, 5000);
  assert.equal(usage.memoryCurrentBytes, 0);
  assert.equal(usage.pidsCurrent, 0);
  assert.deepEqual(usage.unavailable, ["memory", "io", "pids"]);
});

test("a cgroup without throttling figures (no cpu controller) lists only cpu_throttling unavailable of cpu", async () => {
  const bare = await mkdtemp(join(tmpdir(), "jobexec-fake-cgroup-"));
  await writeFile(join(bare, "cpu.stat"), "usage_usec 9\nuser_usec 4\nsystem_usec 5\n");
  const usage = await readUsage(bare, ["cpu"]);
  assert.equal(usage.cpuUsageUsec, 9);
  assert.deepEqual(usage.unavailable, ["cpu_throttling", "memory", "io", "pids"]);
  await rm(bare, { recursive: true });
});

test("OOM kill is oom_kill in memory.events, not oom", async () => {
  assert.equal(await wasOomKilled(dir), false);
  await writeFile(join(dir, "memory.events"), "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
  assert.equal(await wasOomKilled(dir), true);
  await rm(join(dir, "memory.events"));
  assert.equal(await wasOomKilled(dir), false);
});
