// Placement, tree kill and cleanup on a pure cgroup v2 host with every controller.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  type ManagerFixture,
  cgroupProcs,
  jobProcs,
  eventually,
  finished,
  openManager,
  processesMatching,
  stdoutUntil,
  vmTestTimeout,
} from "./support.ts";

const MOUNT = "/sys/fs/cgroup";

describe("job lifecycle on cgroup v2", { timeout: vmTestTimeout, concurrency: true }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  test("the manager finds the pure v2 layout and enables cpu, io, memory and pids", () => {
    assert.equal(fx.manager.cgroups.mode, "unified");
    assert.deepEqual([...fx.manager.cgroups.controllers].sort(), ["cpu", "io", "memory", "pids"]);
    assert.equal(readFileSync(`${MOUNT}/cgroup.subtree_control`, "utf8").includes("memory"), true);
  });

  test("placement: the program's first instruction already runs in the job's cgroup", async () => {
    // cat is exec'd directly: what it reads is its own membership from its first instruction on.
    const started = await fx.manager.start({ program: "cat", args: ["/proc/self/cgroup"] }, "alice");
    const { job, stdout } = await finished(fx.manager, started.id);
    assert.equal(job.exitCode, 0);
    const cgroup = String(started.cgroup);
    assert.ok(cgroup.startsWith(`${MOUNT}/`));
    assert.equal(stdout, `0::${cgroup.slice(MOUNT.length)}\n`);
  });

  test("stop kills daemonized, backgrounded and TERM-ignoring children, then removes the cgroup", async () => {
    const script = [
      "setsid -f sleep 7501 </dev/null >/dev/null 2>&1", // a daemon: new session, reparented to init
      "nohup sleep 7502 >/dev/null 2>&1 &", // backgrounded
      "(trap '' TERM; exec sleep 7503) &", // ignores SIGTERM: needs the kill after the grace
      "echo ready",
      "exec sleep 7500",
    ].join("\n");
    const job = await fx.manager.start({ program: "sh", args: ["-c", script] }, "alice");
    await stdoutUntil(fx.manager, job.id, "ready");
    assert.ok(job.cgroup);
    // setsid -f and the subshells return before their sleep is exec'd: wait until all four run.
    const sleepers = (): number[] => processesMatching("sleep 750").filter((pid) => readFileSync(`/proc/${pid}/comm`, "utf8") === "sleep\n");
    await eventually(() => sleepers().length === 4, () => `sleepers: ${sleepers().join(" ")}`);
    const pids = sleepers();
    assert.deepEqual(jobProcs(job.cgroup).sort(), pids.sort(), "all of them in the job's cgroup (with the job's monitor)");
    assert.equal(cgroupProcs(job.cgroup).length, pids.length + 1);

    const stopped = await fx.manager.stop(job.id, { graceMs: 1000 });
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.signal, "SIGTERM");
    assert.deepEqual(processesMatching("sleep 750"), []);
    assert.equal(existsSync(job.cgroup), false);
  });

  test("a job ends with its main process: background children are killed, the cgroup removed", async () => {
    const started = await fx.manager.start({ program: "sh", args: ["-c", "sleep 7601 & setsid -f sleep 7602; echo done"] }, "alice");
    const { job, stdout } = await finished(fx.manager, started.id);
    assert.equal(job.exitCode, 0);
    assert.equal(stdout, "done\n");
    assert.deepEqual(processesMatching("sleep 760"), []);
    assert.equal(existsSync(started.cgroup ?? ""), false);
  });

  test("close() kills running jobs and removes the manager's sub-tree", async () => {
    const other = await openManager();
    const parent = other.manager.cgroups.parent;
    assert.ok(parent && existsSync(parent));
    const daemon = await other.manager.start({ program: "sh", args: ["-c", "setsid -f sleep 7701; echo ready; exec sleep 7700"] }, "alice");
    await other.manager.start({ program: "sleep", args: ["7702"] }, "alice");
    await stdoutUntil(other.manager, daemon.id, "ready");
    await eventually(() => processesMatching("sleep 770").length === 3, () => `sleepers: ${processesMatching("sleep 770").join(" ")}`);
    await other.close();
    assert.deepEqual(processesMatching("sleep 770"), []);
    assert.equal(existsSync(parent), false, "the sub-tree is removed");
  });
});
