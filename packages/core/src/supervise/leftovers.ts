// What an earlier run of the manager left behind: output directories and job cgroups, removed at start-up.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupSubtree } from "../cgroup/subtree.ts";
import { removeOutput } from "../output/output-files.ts";
import type { LogEvent } from "../types.ts";

/** Removes every output directory in `jobsDir` and kills and removes every job cgroup of `subtree`, logging each. */
export async function removeLeftovers(jobsDir: string, subtree: CgroupSubtree | undefined, log: (event: LogEvent) => void): Promise<void> {
  for (const name of await readdir(jobsDir)) {
    await removeOutput(join(jobsDir, name));
    log({ level: "info", message: `removed output of an earlier run's job ${name}` });
  }
  for (const { dir, pids } of (await subtree?.removeLeftovers()) ?? []) {
    log({
      level: "warn",
      message: `removed leftover job cgroup ${dir}${pids.length > 0 ? `, killing ${String(pids.length)} process(es): ${pids.join(" ")}` : ""}`,
      cgroup: dir,
    });
  }
}
