import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The modules the VM needs, by name: virtio PCI transport, the 9p root share, virtio disks, and ext4
 * with the crc32c it asks for through a soft dependency (modules.dep does not list soft dependencies).
 */
export const vmModules = ["virtio_pci", "9pnet_virtio", "9p", "virtio_blk", "crc32c_generic", "ext4"] as const;

/** Module files of a kernel, relative to /lib/modules/VERSION, in the order they must be loaded. */
export function moduleLoadOrder(modulesDir: string, names: readonly string[]): string[] {
  const deps = parseModulesDep(readFileSync(join(modulesDir, "modules.dep"), "utf8"));
  const builtin = new Set(
    readLines(join(modulesDir, "modules.builtin")).map((path) => moduleName(path)),
  );
  const byName = new Map([...deps.keys()].map((path) => [moduleName(path), path]));
  const order: string[] = [];
  for (const name of names) {
    const normalized = normalize(name);
    if (builtin.has(normalized)) continue;
    const path = byName.get(normalized);
    if (path === undefined) throw new Error(`kernel module ${name} not found in ${modulesDir}`);
    // modules.dep lists every transitive dependency, the deepest last: load them from the end.
    for (const dep of [...[...(deps.get(path) ?? [])].reverse(), path]) {
      if (!order.includes(dep)) order.push(dep);
    }
  }
  return order;
}

/** "kernel/fs/9p/9p.ko.xz" -> "9p"; dashes and underscores are the same in module names. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return normalize(base.replace(/\.ko(\.(xz|zst|gz))?$/, ""));
}

function normalize(name: string): string {
  return name.replaceAll("-", "_");
}

function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const rest = line.slice(colon + 1).trim();
    deps.set(line.slice(0, colon), rest === "" ? [] : rest.split(/\s+/));
  }
  return deps;
}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, "utf8").split("\n").filter((line) => line !== "");
  } catch {
    return []; // Some kernels ship no modules.builtin: then nothing is known to be built in.
  }
}
