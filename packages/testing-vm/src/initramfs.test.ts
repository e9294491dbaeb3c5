import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { skipWithout } from "./host-tools.ts";
import { initramfsFor } from "./initramfs.ts";
import { findKernel } from "./kernel.ts";

test("initramfsFor packs init, busybox and the modules in load order, and replaces an outdated build", { skip: skipWithout("cpio") }, async (t) => {
  const kernel = findKernel();
  if ("missing" in kernel) return t.skip(`no kernel with modules here: ${kernel.missing}`);
  const cacheDir = await mkdtemp(join(tmpdir(), "testing-vm-initramfs-"));
  t.after(() => rm(cacheDir, { recursive: true, force: true }));

  const first = initramfsFor(kernel, "/bin/true", cacheDir);
  assert.equal(initramfsFor(kernel, "/bin/true", cacheDir), first, "cached: the same inputs give the same file");
  const listing = execFileSync("cpio", ["-t", "--quiet"], { input: await readFile(first) }).toString().trim().split("\n");
  for (const path of ["init", "bin/busybox", "dev/console", "modules"]) assert.ok(listing.includes(path), path);
  const order = execFileSync("sh", ["-c", `cd ${cacheDir} && cpio -i --quiet --to-stdout modules < ${first}`]).toString().trim().split("\n");
  const names = order.map((name) => name.replace(/^\d+-|\.ko$/g, ""));
  // Dependencies first: the virtio core before its PCI transport, 9pnet before 9p, jbd2 before ext4.
  for (const [before, after] of [["virtio", "virtio_pci"], ["9pnet", "9p"], ["jbd2", "ext4"]] as const) {
    assert.ok(names.indexOf(before) >= 0 && names.indexOf(before) < names.indexOf(after), `${before} before ${after}: ${names.join(" ")}`);
  }

  const second = initramfsFor(kernel, "/bin/false", cacheDir);
  assert.notEqual(second, first);
  assert.deepEqual(await readdir(cacheDir), [second.slice(cacheDir.length + 1)], "the outdated build is removed");
});
