import { readFileSync, statfsSync } from "node:fs";

const CGROUP2_SUPER_MAGIC = 0x63677270;
const NEEDED_CONTROLLERS = ["cpu", "io", "memory", "pids"];

/**
 * Why the in-VM tests cannot run natively on this host, or undefined when they can: that needs root
 * and a pure cgroup v2 /sys/fs/cgroup offering the cpu, io, memory and pids controllers.
 */
export function nativeCgroupV2Missing(root = "/sys/fs/cgroup"): string | undefined {
  if (process.getuid?.() !== 0) return "root";
  try {
    if (statfsSync(root).type !== CGROUP2_SUPER_MAGIC) return `cgroup2 mounted at ${root} (a pure v2 host)`;
    const offered = readFileSync(`${root}/cgroup.controllers`, "utf8").trim().split(/\s+/);
    const absent = NEEDED_CONTROLLERS.filter((name) => !offered.includes(name));
    return absent.length > 0 ? `the ${absent.join(", ")} controllers in ${root}` : undefined;
  } catch {
    return `a readable ${root}`;
  }
}
