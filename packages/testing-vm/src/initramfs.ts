import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { type CpioEntry, cpioArchive } from "./cpio.ts";
import { initScript } from "./vm-scripts.ts";
import type { Kernel } from "./kernel.ts";
import { moduleLoadOrder, moduleName, vmModules } from "./kernel-modules.ts";
import { VmError } from "./vm-error.ts";

/**
 * Returns the path of the initramfs for `kernel`: busybox, /init (`init`, by default the VM tier's) and the kernel's
 * modules the VM needs. Built once and cached in `cacheDir` under a name keyed by `flavor` (which tier), the kernel
 * version and a hash of the contents, so a changed init script or busybox makes a new one.
 */
export function initramfsFor(kernel: Kernel, busybox: string, cacheDir: string, init = initScript(), flavor = ""): string {
  const modules = moduleLoadOrder(kernel.modulesDir, vmModules);
  const entries: CpioEntry[] = [
    ...["bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"].map((path) => ({ kind: "dir" as const, path })),
    // The kernel opens /dev/console for init's stdio before anything is mounted.
    { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
    { kind: "file", path: "bin/busybox", data: readFileSync(busybox), mode: 0o755 },
    { kind: "file", path: "init", data: Buffer.from(init), mode: 0o755 },
  ];
  const order: string[] = [];
  for (const [index, module] of modules.entries()) {
    // Numbered names keep two modules of the same name in different directories apart.
    const name = `${String(index).padStart(2, "0")}-${moduleName(module)}.ko`;
    entries.push({ kind: "file", path: `lib/modules/${name}`, data: decompressed(join(kernel.modulesDir, module)) });
    order.push(name);
  }
  entries.push({ kind: "file", path: "modules", data: Buffer.from(`${order.join("\n")}\n`) });

  const archive = cpioArchive(entries);
  const hash = createHash("sha256").update(archive).digest("hex").slice(0, 12);
  const prefix = `initramfs-${flavor}${kernel.version}-`;
  const path = join(cacheDir, `${prefix}${hash}.cpio`);
  if (!existsSync(path)) {
    mkdirSync(cacheDir, { recursive: true });
    // Write then rename: a concurrent run never sees half a file.
    const partial = `${path}.${process.pid}.tmp`;
    writeFileSync(partial, archive);
    renameSync(partial, path);
    // Older builds for this kernel (an earlier /init or busybox) are never used again.
    for (const name of readdirSync(cacheDir)) {
      if (name.startsWith(prefix) && name.endsWith(".cpio") && join(cacheDir, name) !== path) rmSync(join(cacheDir, name), { force: true });
    }
  }
  return path;
}

/** busybox insmod takes plain .ko files only; distributions compress them with xz, zstd or gzip. */
function decompressed(path: string): Buffer {
  try {
    const data = readFileSync(path);
    if (path.endsWith(".zst")) return zstdDecompressSync(data);
    if (path.endsWith(".gz")) return gunzipSync(data);
    if (path.endsWith(".xz")) return execFileSync("xz", ["-dc", path], { maxBuffer: 64 * 1024 * 1024 });
    return data;
  } catch (cause) {
    throw new VmError("build_failed", `cannot read kernel module ${path}`, { cause });
  }
}
