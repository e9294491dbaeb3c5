// A manager inside a delegated, non-root cgroup (as under systemd with Delegate=yes) obeys the
// no-internal-processes rule: it moves itself into a leaf and makes job cgroups siblings of it.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ManagerFixture, cgroupProcs, finished, openManager, processesMatching, stdoutUntil, vmTestTimeout } from "./support.ts";
import { delegateService, ownCgroup, removeCgroupTree } from "./delegation.ts";

const MOUNT = "/sys/fs/cgroup";
const SERVICE = join(MOUNT, "system.slice/jobexec-test.service");

describe("manager in a delegated non-root cgroup", { timeout: vmTestTimeout }, () => {
  let fx: ManagerFixture;
  let closed = false;
  before(async () => {
    delegateService(SERVICE);
    // This test process is the "service": systemd would have started it inside the unit's cgroup.
    writeFileSync(join(SERVICE, "cgroup.procs"), String(process.pid));
    fx = await openManager();
  });
  after(async () => {
    if (!closed) await fx.close();
    writeFileSync(join(MOUNT, "cgroup.procs"), String(process.pid));
    await removeCgroupTree(SERVICE);
  });

  test("the manager moved itself into a leaf; the service cgroup holds no process and delegates the controllers", () => {
    assert.equal(ownCgroup(), `${SERVICE.slice(MOUNT.length)}/supervisor`);
    assert.deepEqual(cgroupProcs(SERVICE), []);
    assert.equal(fx.manager.cgroups.parent?.startsWith(`${SERVICE}/`), true);
    const enabled = readFileSync(join(SERVICE, "cgroup.subtree_control"), "utf8");
    for (const controller of ["cpu", "io", "memory", "pids"]) assert.match(enabled, new RegExp(`\\b${controller}\\b`));
  });

  test("jobs run under the service's sub-tree with their limits enforced", async () => {
    const started = await fx.manager.start(
      { program: "sh", args: ["-c", "cat /proc/self/cgroup; head -c 268435456 /dev/zero | tail"], limits: { memoryMaxBytes: 32 * 1024 * 1024 } },
      "alice",
    );
    const { job, stdout } = await finished(fx.manager, started.id);
    assert.equal(stdout, `0::${started.cgroup?.slice(MOUNT.length)}\n`);
    assert.ok(started.cgroup?.startsWith(`${String(fx.manager.cgroups.parent)}/`));
    assert.equal(job.oomKilled, true);
    assert.equal(existsSync(started.cgroup ?? ""), false);
  });

  test("close() kills the jobs, removes the sub-tree and puts the process back in the service cgroup", async () => {
    const other = await openManager();
    const parent = String(other.manager.cgroups.parent);
    const job = await other.manager.start({ program: "sh", args: ["-c", "setsid -f sleep 7901; echo ready; exec sleep 7900"] }, "alice");
    await stdoutUntil(other.manager, job.id, "ready");
    await other.close();
    assert.deepEqual(processesMatching("sleep 790"), []);
    assert.equal(existsSync(parent), false);
    // The first manager is still open: the process stays in its leaf until that one closes too.
    assert.equal(ownCgroup(), `${SERVICE.slice(MOUNT.length)}/supervisor`);
  });

  test("closing the last manager puts the process back in the service cgroup and removes the leaf", async () => {
    closed = true;
    await fx.close();
    assert.equal(ownCgroup(), SERVICE.slice(MOUNT.length));
    assert.equal(existsSync(join(SERVICE, "supervisor")), false);
    assert.equal(readFileSync(join(SERVICE, "cgroup.subtree_control"), "utf8").trim(), "");
  });
});
