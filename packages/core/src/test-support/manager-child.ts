// A JobManager in a process of its own, for restart tests: `node manager-child.ts DATA_DIR CGROUP_PARENT` prints one
// JSON line {"parent", "standbys": [pid...]} once its standby pool is full, then runs until it is killed.
import { setTimeout as sleep } from "node:timers/promises";
import { JobManager } from "../job-manager.ts";
import { standbysIn } from "./fixture.ts";

const [dataDir, cgroupParent] = process.argv.slice(2);
if (dataDir === undefined || cgroupParent === undefined) throw new Error("usage: manager-child.ts DATA_DIR CGROUP_PARENT");
const manager = await JobManager.create({ dataDir, cgroupParent });
while (manager.standbys.idle < manager.standbys.size) await sleep(20);
const parent = manager.cgroups.parent as string;
process.stdout.write(`${JSON.stringify({ parent, standbys: standbysIn(parent).map((s) => s.pid) })}\n`);
setInterval(() => undefined, 60_000);
