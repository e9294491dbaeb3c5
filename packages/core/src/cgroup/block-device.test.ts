import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveWholeDisk } from "./block-device.ts";

// A fake sysfs: sda (8:0) with partition sda1 (8:1), and a whole disk vdb (252:16) without partitions.
let sys: string;
before(async () => {
  sys = await mkdtemp(join(tmpdir(), "jobexec-fake-sys-"));
  const sda = join(sys, "devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda");
  const vdb = join(sys, "devices/virtual/block/vdb");
  await mkdir(join(sda, "sda1"), { recursive: true });
  await mkdir(vdb, { recursive: true });
  await mkdir(join(sys, "dev/block"), { recursive: true });
  await writeFile(join(sda, "dev"), "8:0\n");
  await writeFile(join(sda, "sda1/dev"), "8:1\n");
  await writeFile(join(sda, "sda1/partition"), "1\n");
  await writeFile(join(vdb, "dev"), "252:16\n");
  await symlink("../../devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda", join(sys, "dev/block/8:0"));
  await symlink("../../devices/pci0000:00/0000:00:01.1/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda1", join(sys, "dev/block/8:1"));
  await symlink("../../devices/virtual/block/vdb", join(sys, "dev/block/252:16"));
});
after(() => rm(sys, { recursive: true, force: true }));

test("a partition resolves to its whole disk through /sys/dev/block/M:m/partition and ../dev", async () => {
  assert.equal(await resolveWholeDisk("8:1", sys), "8:0");
});

test("a whole disk resolves to itself", async () => {
  assert.equal(await resolveWholeDisk("8:0", sys), "8:0");
  assert.equal(await resolveWholeDisk("252:16", sys), "252:16");
});

test("an unknown MAJ:MIN or major 0 is invalid_argument", async () => {
  await assert.rejects(resolveWholeDisk("9:9", sys), { code: "invalid_argument", message: /not a block device of this host/ });
  await assert.rejects(resolveWholeDisk("0:42", sys), { code: "invalid_argument", message: /major 0/ });
});

test("paths on this host: a file names its filesystem's disk; tmpfs and proc are refused", async () => {
  // /tmp on this host is ext4 on a whole virtio disk; whatever it is, the answer is a MAJ:MIN with a /sys entry.
  assert.match(await resolveWholeDisk(tmpdir()), /^[1-9]\d*:\d+$/);
  await assert.rejects(resolveWholeDisk("/dev/shm"), { code: "invalid_argument", message: /without a block device/ });
  await assert.rejects(resolveWholeDisk("/proc"), { code: "invalid_argument", message: /without a block device/ });
  await assert.rejects(resolveWholeDisk("/no/such/file"), { code: "invalid_argument", message: /does not exist/ });
});
