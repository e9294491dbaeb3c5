import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { findTool, skipWithout } from "./host-tools.ts";
import { findKernel } from "./kernel.ts";
import { moduleLoadOrder, moduleName } from "./kernel-modules.ts";

test("moduleName strips directories and compression, and treats - as _", () => {
  assert.equal(moduleName("kernel/arch/x86/crypto/crc32c-intel.ko.xz"), "crc32c_intel");
  assert.equal(moduleName("kernel/fs/9p/9p.ko"), "9p");
});

test("moduleLoadOrder agrees with modprobe --show-depends on the installed kernel (found in sbin too)", { skip: skipWithout("modprobe") }, (t) => {
  const kernel = findKernel();
  if ("missing" in kernel) return t.skip(`no kernel with modules here: ${kernel.missing}`);
  for (const name of ["9pnet_virtio", "ext4", "virtio_blk"]) {
    // modprobe also loads soft dependencies (ext4 -> crc32c), which modules.dep does not list.
    const shown = execFileSync(findTool("modprobe") ?? "modprobe", ["-S", kernel.version, "--ignore-install", "--show-depends", name]).toString();
    const modprobe: string[] = [...shown.matchAll(/^insmod (\S+)/gm)].map((match) => String(match[1]).slice(kernel.modulesDir.length + 1));
    const ours = moduleLoadOrder(kernel.modulesDir, [name]);
    assert.deepEqual(ours, modprobe.filter((path) => ours.includes(path)), name);
    assert.equal(ours.at(-1), modprobe.at(-1), `${name} is loaded last`);
  }
});
