// A JobManager in a process of its own, for restart tests: `node manager-child.ts DATA_DIR CGROUP_PARENT` prints one
// JSON line {"parent", "standbys": [pid...]} once its standby pool is full, then runs until it is killed.
import { JobManager } from "../job-manager.ts";
import { standbysIn, standbysReady } from "./fixture.ts";

const [dataDir, cgroupParent] = process.argv.slice(2);
if (dataDir === undefined || cgroupParent === undefined) throw new Error("usage: manager-child.ts DATA_DIR CGROUP_PARENT");
const manager = await JobManager.create({ dataDir, cgroupParent });
await standbysReady(manager);
const parent = manager.cgroups.parent as string;
process.stdout.write(`${JSON.stringify({ parent, standbys: standbysIn(parent).map((s) => s.pid) })}\n`);
setInterval(() => undefined, 60_000);
