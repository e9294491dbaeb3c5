import { readFileSync } from "node:fs";
import { findTool } from "./host-tools.ts";
import { type Kernel, findKernel } from "./kernel.ts";

/** Everything the VM tier needs from the host. */
export interface Prerequisites {
  qemu: string;
  kernel: Kernel;
  busybox: string;
  mkfsExt4: string;
}

/** What to install when something is missing; install-deps.sh installs exactly these. */
export const INSTALL_HINT =
  "install qemu-system-x86, linux-image-amd64, busybox-static and e2fsprogs: run packages/testing-vm/install-deps.sh as root (bash scripts/test.sh does it itself when run as root where apt-get is)";

/** Finds the prerequisites, or lists what is missing. */
export function findPrerequisites(env: NodeJS.ProcessEnv = process.env): Prerequisites | { missing: string[] } {
  const missing: string[] = [];
  if (process.arch !== "x64") missing.push(`an x86-64 host (this is ${process.arch})`);
  const qemu = findTool("qemu-system-x86_64", env);
  if (!qemu) missing.push("qemu-system-x86_64");
  const mkfsExt4 = findTool("mkfs.ext4", env);
  if (!mkfsExt4) missing.push("mkfs.ext4");
  const busybox = [env.JOBEXEC_VM_BUSYBOX, "/bin/busybox", "/usr/bin/busybox"].find(
    (path): path is string => path !== undefined && isStaticExecutable(path),
  );
  if (!busybox) missing.push("a static busybox");
  const kernel = findKernel(env);
  if ("missing" in kernel) missing.push(`a kernel: ${kernel.missing}`);
  if (!qemu || !mkfsExt4 || !busybox || "missing" in kernel || missing.length > 0) return { missing };
  return { qemu, kernel, busybox, mkfsExt4 };
}

/**
 * True when `path` is an x86-64 ELF executable without a program interpreter: it runs in an
 * initramfs that has no dynamic loader or libc.
 */
export function isStaticExecutable(path: string): boolean {
  let elf: Buffer;
  try {
    elf = readFileSync(path);
  } catch {
    return false;
  }
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  for (let i = 0; i < phnum; i++) {
    const offset = phoff + i * phentsize;
    if (offset + 4 > elf.length) return false;
    if (elf.readUInt32LE(offset) === PT_INTERP) return false;
  }
  return true;
}
