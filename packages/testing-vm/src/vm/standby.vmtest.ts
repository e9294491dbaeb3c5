// Jobs started from standbys obey their limits from their first instruction: memory.max far below the size of the
// Node process the standby was (its start-up memory stayed charged where it was allocated), and pids.max.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { JobSpec } from "@jobexec/core";
import { type ManagerFixture, cgroupProcs, eventually, finished, openManager, processesMatching, stdoutUntil, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;

/** The manager's ready standbys: processes in cgroups under its jobs' parent, blocked reading their request (fd 4). */
function readyStandbys(parent: string): { pid: number; cgroup: string }[] {
  const found: { pid: number; cgroup: string }[] = [];
  for (const entry of readdirSync(parent, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const cgroup = join(parent, entry.name);
    for (const pid of cgroupProcs(cgroup)) {
      if (readFileSync(`/proc/${pid}/syscall`, "utf8").startsWith("0 0x4 ")) found.push({ pid, cgroup });
    }
  }
  return found;
}

// The program's first action reads its own cgroup's limit: it is there before the program runs.
const ownLimit = (file: string): string => `cat "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/${file}"`;

describe("jobs from standbys", { timeout: vmTestTimeout, concurrency: false }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  const poolFull = (): Promise<void> =>
    eventually(
      () => fx.manager.standbys.idle === fx.manager.standbys.target && fx.manager.standbys.starting === 0,
      () => `the standby pool did not fill: ${JSON.stringify(fx.manager.standbys)}`,
      60_000,
    );

  /** Starts `spec` once the pool is full, and checks it came from a standby. */
  async function startWarm(spec: JobSpec) {
    await poolFull();
    const { warmStarts } = fx.manager.standbys;
    const job = await fx.manager.start(spec, "alice");
    assert.equal(fx.manager.standbys.warmStarts, warmStarts + 1, "started from a standby");
    return job;
  }

  test("a waiting standby's cgroup is charged next to nothing: the ~40 MiB of its Node start-up stayed where they were allocated", async (t) => {
    await poolFull();
    const standbys = readyStandbys(fx.manager.cgroups.parent as string);
    assert.ok(standbys.length >= 2);
    for (const { pid, cgroup } of standbys) {
      const rss = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) * 1024;
      const charged = Number(readFileSync(join(cgroup, "memory.current"), "utf8"));
      t.diagnostic(`standby ${pid}: RSS ${(rss / MiB).toFixed(1)} MiB, its cgroup's memory.current ${(charged / 1024).toFixed(0)} KiB`);
      assert.ok(rss > 20 * MiB, `standby ${pid} RSS ${rss}`);
      assert.ok(charged < 2 * MiB, `its cgroup is charged ${charged} bytes (RSS ${rss})`);
      assert.equal(readFileSync(join(cgroup, "memory.max"), "utf8").trim(), "max", "no limit is written before the start");
    }
  });

  test("memory.max 8 MiB: the job starts, sees its limit first, and is OOM-killed once it allocates 32 MiB", async () => {
    const script = `${ownLimit("memory.max")}; echo started; head -c ${32 * MiB} /dev/zero | tail | wc -c`;
    const started = await startWarm({ program: "sh", args: ["-c", script], limits: { memoryMaxBytes: 8 * MiB } });
    const { job, stdout } = await finished(fx.manager, started.id);
    assert.equal(stdout, `${8 * MiB}\nstarted\n`);
    assert.deepEqual([job.state, job.signal, job.exitCode, job.oomKilled], ["exited", "SIGKILL", undefined, true]);
    assert.ok(job.usage.memoryPeakBytes > 0 && job.usage.memoryPeakBytes <= 8 * MiB, `peak ${job.usage.memoryPeakBytes}`);
  });

  test("memory.max 8 MiB: a job within it runs to its end", async () => {
    const started = await startWarm({ program: "sh", args: ["-c", `${ownLimit("memory.max")}; head -c ${2 * MiB} /dev/zero | tail | wc -c`], limits: { memoryMaxBytes: 8 * MiB } });
    const { job, stdout, stderr } = await finished(fx.manager, started.id);
    assert.deepEqual([job.exitCode, job.oomKilled, stdout], [0, false, `${8 * MiB}\n${2 * MiB}\n`], stderr);
    assert.ok(job.usage.memoryPeakBytes <= 8 * MiB, `peak ${job.usage.memoryPeakBytes}`);
  });

  test("pids.max 4: forks past it fail from the start, every process stays in the job's cgroup", async () => {
    // The standby waited with its 3 threads in the cgroup: the limit counts the job's own tasks once it is the job.
    const script = `${ownLimit("pids.max")}; (i=0; while [ $i -lt 20 ]; do sleep 7501 & i=$((i+1)); done) 2>/dev/null; echo loop-ended; exec sleep 7500`;
    const job = await startWarm({ program: "sh", args: ["-c", script], limits: { pidsMax: 4 } });
    const stdout = await stdoutUntil(fx.manager, job.id, "loop-ended");
    assert.equal(stdout, "4\nloop-ended\n");
    const inCgroup = cgroupProcs(job.cgroup as string);
    const sleepers = processesMatching("sleep 7501");
    assert.ok(inCgroup.length <= 4, `${inCgroup.length} processes in the cgroup`);
    assert.ok(sleepers.length < 20 && sleepers.every((pid) => inCgroup.includes(pid)), `${sleepers.length} sleepers, all inside`);
    assert.ok(Number(/^max (\d+)$/m.exec(readFileSync(join(job.cgroup as string, "pids.events"), "utf8"))?.[1]) > 0, "pids.events counts the refused forks");
    assert.equal((await fx.manager.stop(job.id, { graceMs: 0 })).state, "stopped");
    assert.deepEqual(processesMatching("sleep 750"), []);
  });
});
