import { readFileSync } from "node:fs";

/**
 * Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on a pure v2 host,
 * /sys/fs/cgroup/unified on a hybrid one), read from /proc/self/mountinfo; `undefined` if nowhere.
 * For the tests and the benchmark: cgexec itself is given its cgroup directory.
 */
export function cgroup2Mount(): string | undefined {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    // "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS... - FSTYPE SOURCE SUPER-OPTIONS"
    const [mount, fs] = line.split(" - ");
    if (fs?.startsWith("cgroup2 ")) return mount?.split(" ")[4];
  }
  return undefined;
}
