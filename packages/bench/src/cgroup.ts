import { mkdir, readdir, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BenchError } from "./error.ts";

/** Where the v2 hierarchy is mounted on this host (hybrid). */
export const cgroupRoot = "/sys/fs/cgroup/unified";

/** A cgroup name no other run uses: several test processes share this host's hierarchy. */
export const uniqueCgroupName = (): string => `jobexec-bench-${Math.random().toString(36).slice(2, 10)}`;

/** Kills every process under a cgroup directory and removes it, deepest first. */
export async function removeCgroupTree(path: string): Promise<void> {
  await writeFile(join(path, "cgroup.kill"), "1").catch(() => undefined);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(path, entry.name));
  }
  // The kill is asynchronous: the directory stays busy until its last process is reaped.
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(path);
      return;
    } catch (error) {
      if (attempt >= 100) throw new BenchError("workload", `cannot remove cgroup ${path}`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** A fresh cgroup for baselines; `remove` kills anything left in it and deletes it. */
export async function scratchCgroup(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = join(cgroupRoot, uniqueCgroupName());
  await mkdir(path);
  return { path, remove: () => removeCgroupTree(path) };
}
