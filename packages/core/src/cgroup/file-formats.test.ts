import assert from "node:assert/strict";
import { test } from "node:test";
import { formatCpuMax, formatIoMax, parseCgroup2Mount, parseFlatKeyed, parseNestedKeyed, parsePressure, parseProcCgroup, sumIoStat } from "./file-formats.ts";

test("cpu.max: quota for a CPU fraction over a 100 ms period", () => {
  assert.equal(formatCpuMax(0.5), "50000 100000");
  assert.equal(formatCpuMax(2), "200000 100000");
  assert.equal(formatCpuMax(0.1), "10000 100000");
  assert.equal(formatCpuMax(1 / 3), "33333 100000");
});

test("io.max: one line per disk, unset rates written as max", () => {
  assert.equal(formatIoMax("8:0", { device: "/", writeBps: 10485760 }), "8:0 rbps=max wbps=10485760 riops=max wiops=max");
  assert.equal(
    formatIoMax("254:0", { device: "254:0", readBps: 1, writeBps: 2, readIops: 3, writeIops: 4 }),
    "254:0 rbps=1 wbps=2 riops=3 wiops=4",
  );
});

test("flat-keyed files: cpu.stat, memory.events, cgroup.events", () => {
  const cpu = parseFlatKeyed("usage_usec 1234\nuser_usec 1000\nsystem_usec 234\nnr_periods 0\nthrottled_usec 5\n");
  assert.equal(cpu.get("usage_usec"), 1234);
  assert.equal(cpu.get("system_usec"), 234);
  assert.equal(cpu.get("throttled_usec"), 5);
  assert.equal(cpu.get("missing"), undefined);
  const events = parseFlatKeyed("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 1\n");
  assert.equal(events.get("oom_kill"), 1);
  assert.equal(parseFlatKeyed("populated 0\nfrozen 0\n").get("populated"), 0);
  assert.equal(parseFlatKeyed("").size, 0);
});

test("nested-keyed files: io.stat summed over devices, io.max read back", () => {
  const ioStat = "8:0 rbytes=1000 wbytes=2000 rios=1 wios=2 dbytes=0 dios=0\n254:0 rbytes=24 wbytes=4096 rios=3 wios=4 dbytes=0 dios=0\n";
  assert.deepEqual(sumIoStat(ioStat), { readBytes: 1024, writeBytes: 6096, readOps: 4, writeOps: 6 });
  assert.deepEqual(sumIoStat(""), { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 });
  const ioMax = parseNestedKeyed("8:0 rbps=max wbps=1048576 riops=max wiops=max\n");
  assert.equal(ioMax.get("8:0")?.get("wbps"), "1048576");
  assert.equal(ioMax.get("8:0")?.get("rbps"), "max");
});

test("/proc/self/cgroup: the unified (0::) line", () => {
  assert.equal(parseProcCgroup("12:pids:/\n1:name=systemd:/x\n0::/system.slice/jobexec.service\n"), "/system.slice/jobexec.service");
  assert.equal(parseProcCgroup("0::/\n"), "/");
  assert.equal(parseProcCgroup("4:memory:/a\n"), undefined);
});

test("/proc/self/mountinfo: the cgroup2 mount point, pure v2, hybrid, none, escaped", () => {
  const pure = "24 29 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
  assert.equal(parseCgroup2Mount(pure), "/sys/fs/cgroup");
  const hybrid = [
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:5 master:1 - cgroup2 cgroup2 rw",
  ].join("\n");
  assert.equal(parseCgroup2Mount(hybrid), "/sys/fs/cgroup/unified");
  assert.equal(parseCgroup2Mount("30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"), undefined);
  assert.equal(parseCgroup2Mount("41 22 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n"), "/mnt/my cg");
});

test("pressure files: totals and averages of the some and full lines; a missing line is absent", () => {
  const both = parsePressure("some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.00 avg60=0.10 avg300=0.00 total=789\n");
  assert.deepEqual(both, { some: { total: 123456, avg10: 1.5, avg60: 0.25 }, full: { total: 789, avg10: 0, avg60: 0.1 } });
  assert.deepEqual(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n"), { some: { total: 5, avg10: 0, avg60: 0 } });
  assert.deepEqual(parsePressure(""), {});
});
