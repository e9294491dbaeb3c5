// What an earlier run of the manager left behind without a record: output directories and job cgroups.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { CgroupSubtree } from "../cgroup/subtree.ts";
import { removeOutput } from "../output/output-files.ts";
import type { LogEvent } from "../types.ts";

/**
 * Removes every output directory in `jobsDir` that is not a known job's, and kills and removes every job cgroup
 * of `subtree` that no running job lives in (e.g. one made by a start a crash cut short), logging each.
 */
export async function removeLeftovers(
  jobsDir: string,
  subtree: CgroupSubtree | undefined,
  known: ReadonlySet<string>,
  running: ReadonlySet<string>,
  log: (event: LogEvent) => void,
): Promise<void> {
  for (const name of await readdir(jobsDir)) {
    if (known.has(name)) continue;
    await removeOutput(join(jobsDir, name));
    log({ level: "info", message: `removed output directory ${name}, which no job record owns` });
  }
  for (const { dir, pids } of (await subtree?.removeLeftovers((name) => running.has(name))) ?? []) {
    log({
      level: "warn",
      message: `removed leftover job cgroup ${dir}${pids.length > 0 ? `, killing ${String(pids.length)} process(es): ${pids.join(" ")}` : ""}`,
      cgroup: dir,
    });
  }
}
