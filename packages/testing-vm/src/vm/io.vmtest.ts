// io.max on real virtio disks: bandwidth and IOPS limits bite on O_DIRECT IO, and devices given as paths,
// device nodes or partitions resolve to the whole disk.
import assert from "node:assert/strict";
import { chmod, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { IoLimit } from "@jobexec/core";
import { type ManagerFixture, diskNumber, finished, openManager, requiredEnv, runSeconds, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;

describe("io limit", { timeout: vmTestTimeout, concurrency: true }, () => {
  let fx: ManagerFixture;
  let wholeDisk: string;
  let wholeDir: string;
  let partition: string;
  let partitionDir: string;
  let partitionDisk: string;
  before(async () => {
    wholeDisk = requiredEnv("JOBEXEC_TEST_WHOLE_DISK");
    wholeDir = requiredEnv("JOBEXEC_TEST_WHOLE_DISK_DIR");
    partition = requiredEnv("JOBEXEC_TEST_PARTITION");
    partitionDir = requiredEnv("JOBEXEC_TEST_PARTITION_DIR");
    partitionDisk = requiredEnv("JOBEXEC_TEST_PARTITION_DISK");
    // dd runs as alice's dynamic account: the scratch filesystems must be writable to it.
    await Promise.all([chmod(wholeDir, 0o1777), chmod(partitionDir, 0o1777)]);
    fx = await openManager();
  });
  after(() => fx.close());

  /**
   * Runs dd with `args` under `io`; returns the job, its run time (an upper bound on dd's own: it includes the
   * start-up, seconds under TCG on a loaded host), dd's report and the copy time dd reports.
   */
  async function dd(args: string[], io?: IoLimit[]) {
    const started = await fx.manager.start({ program: "dd", args, ...(io ? { limits: { io } } : {}) }, "alice");
    const { job, stderr } = await finished(fx.manager, started.id);
    assert.equal(job.exitCode, 0, stderr);
    const report = stderr.trim().split("\n").at(-1) ?? "";
    const copied = /copied, ([\d.]+) s/.exec(report);
    assert.ok(copied, `dd's report: ${report}`);
    return { job, seconds: runSeconds(job), ddSeconds: Number(copied[1]), report };
  }

  test("write 1 MiB/s on a path of the whole disk's ext4: 4 MiB O_DIRECT take >= 3.5 s; unlimited much faster", async () => {
    const limited = await dd(
      ["if=/dev/zero", `of=${join(wholeDir, "w")}`, "bs=256k", "count=16", "oflag=direct"],
      [{ device: wholeDir, writeBps: MiB }],
    );
    const free = await dd(["if=/dev/zero", `of=${join(wholeDir, "w-free")}`, "bs=256k", "count=16", "oflag=direct"]);
    console.log(`# write 1 MiB/s: ${limited.report}; unlimited: ${free.report}`);
    assert.equal(limited.job.limits.io?.[0]?.resolvedDevice, diskNumber(wholeDisk));
    assert.ok(limited.seconds >= 3.5, `took ${limited.seconds} s`);
    // dd's own copy times: the job's run time also counts the start-up, which the limit does not slow.
    assert.ok(free.ddSeconds * 2 <= limited.ddSeconds, `unlimited ${free.ddSeconds} s vs limited ${limited.ddSeconds} s (dd's copy times)`);
    assert.ok(limited.job.usage.ioWriteBytes >= 4 * MiB, `io.stat wbytes ${limited.job.usage.ioWriteBytes}`);
  });

  test("read 1 MiB/s on the device node: 4 MiB read with O_DIRECT take >= 3.5 s", async () => {
    const file = join(wholeDir, "r");
    await writeFile(file, Buffer.alloc(4 * MiB, 7), { flush: true });
    const limited = await dd([`if=${file}`, "of=/dev/null", "bs=256k", "iflag=direct"], [{ device: wholeDisk, readBps: MiB }]);
    console.log(`# read 1 MiB/s: ${limited.report}`);
    assert.equal(limited.job.limits.io?.[0]?.resolvedDevice, diskNumber(wholeDisk));
    assert.ok(limited.seconds >= 3.5, `took ${limited.seconds} s`);
    assert.ok(limited.job.usage.ioReadBytes >= 4 * MiB, `io.stat rbytes ${limited.job.usage.ioReadBytes}`);
  });

  test("write IOPS 25 given as MAJ:MIN: 100 O_DIRECT 4 KiB writes take >= 3.5 s", async () => {
    const disk = diskNumber(wholeDisk);
    const limited = await dd(
      ["if=/dev/zero", `of=${join(wholeDir, "iops")}`, "bs=4k", "count=100", "oflag=direct"],
      [{ device: disk, writeIops: 25 }],
    );
    console.log(`# write 25 IOPS: ${limited.report}`);
    assert.equal(limited.job.limits.io?.[0]?.resolvedDevice, disk);
    assert.ok(limited.seconds >= 3.5, `took ${limited.seconds} s`);
  });

  test("a partition, or a path on its filesystem, resolves to its disk, and the limit bites there", async () => {
    const disk = diskNumber(partitionDisk);
    assert.notEqual(disk, diskNumber(partition), "the partition has a number of its own");
    const byNode = await fx.manager.start({ program: "true", limits: { io: [{ device: partition, writeBps: MiB }] } }, "alice");
    assert.equal(byNode.limits.io?.[0]?.resolvedDevice, disk);
    const limited = await dd(
      ["if=/dev/zero", `of=${join(partitionDir, "w")}`, "bs=256k", "count=8", "oflag=direct"],
      [{ device: partitionDir, writeBps: MiB }],
    );
    console.log(`# write 1 MiB/s on the partition: ${limited.report}`);
    assert.equal(limited.job.limits.io?.[0]?.resolvedDevice, disk);
    assert.ok(limited.seconds >= 1.5, `2 MiB took ${limited.seconds} s`);
    await finished(fx.manager, byNode.id);
  });

  test("a path on tmpfs is refused: no block device behind it", async () => {
    await assert.rejects(
      fx.manager.start({ program: "true", limits: { io: [{ device: "/tmp", writeBps: MiB }] } }, "alice"),
      (err: Error & { code?: string }) => err.code === "invalid_argument",
    );
  });
});
