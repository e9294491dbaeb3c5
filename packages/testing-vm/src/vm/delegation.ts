// Sets up a cgroup the way systemd does for a unit with Delegate=yes.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const MOUNT = "/sys/fs/cgroup";

/**
 * Creates `serviceDir` (under /sys/fs/cgroup) with cpu, io, memory and pids enabled in the
 * subtree_control of every ancestor, as systemd does for a delegated unit; the unit's own
 * subtree_control is left to the service.
 */
export function delegateService(serviceDir: string): void {
  let dir = MOUNT;
  for (const segment of relative(MOUNT, dirname(serviceDir)).split("/").filter(Boolean)) {
    writeFileSync(join(dir, "cgroup.subtree_control"), "+cpu +io +memory +pids");
    dir = join(dir, segment);
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(join(dir, "cgroup.subtree_control"), "+cpu +io +memory +pids");
  mkdirSync(serviceDir, { recursive: true });
}

/** This process's cgroup, as the `0::` line of /proc/self/cgroup names it ("/" for the root). */
export function ownCgroup(): string {
  return /^0::(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1] ?? "";
}

/** Kills every process under `dir` (cgroup.kill) and removes it with its descendants; nothing if absent. */
export async function removeCgroupTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  writeFileSync(join(dir, "cgroup.kill"), "1");
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  }
  // rmdir fails with EBUSY until the killed processes are gone.
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY" || attempt >= 100) throw err;
      await sleep(50);
    }
  }
}
