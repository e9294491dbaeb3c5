// A JobManager in a process of its own, for restart tests: `node manager-child.ts DATA_DIR CGROUP_PARENT` prints one
// JSON line {"parent", "standbys": [pid...]} once its standby pool is full, then runs until it is killed.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { JobManager } from "../job-manager.ts";
import { holdCgroupName } from "../launch/launch-job.ts";

const [dataDir, cgroupParent] = process.argv.slice(2);
if (dataDir === undefined || cgroupParent === undefined) throw new Error("usage: manager-child.ts DATA_DIR CGROUP_PARENT");
const manager = await JobManager.create({ dataDir, cgroupParent });
while (manager.standbys.idle < manager.standbys.size) await sleep(20);
const parent = manager.cgroups.parent as string;
const procs = await readFile(join(parent, holdCgroupName, "cgroup.procs"), "utf8");
process.stdout.write(`${JSON.stringify({ parent, standbys: procs.split("\n").filter(Boolean).map(Number) })}\n`);
setInterval(() => undefined, 60_000);
