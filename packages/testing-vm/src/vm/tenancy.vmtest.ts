// Tenancy on a kernel whose cgroup v2 enforces every limit: a job running as its owner's dynamic account cannot
// change its limits or leave its cgroup, and the limits still apply after it tried.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ManagerFixture, cgroupProcs, finished, openManager, stdoutUntil, vmTestTimeout } from "./support.ts";

const MOUNT = "/sys/fs/cgroup";
const MiB = 1024 * 1024;

// Each attempt prints "NAME: <error>" or "NAME: DONE" when it (wrongly) succeeded. $own and $parent are the job's
// cgroup and its parent, as the job finds them.
function attempts(sibling: string): string {
  const own = "$own";
  const parent = "$parent";
  const tries: [string, string][] = [
    ["memory.max", `echo max > ${own}/memory.max`],
    ["memory.swap.max", `echo max > ${own}/memory.swap.max`],
    ["memory.oom.group", `echo 0 > ${own}/memory.oom.group`],
    ["pids.max", `echo max > ${own}/pids.max`],
    ["cpu.max", `echo max > ${own}/cpu.max`],
    ["cpu.weight", `echo 10000 > ${own}/cpu.weight`],
    ["io.max", `echo "8:0 wbps=max" > ${own}/io.max`],
    ["own subtree_control", `echo +memory > ${own}/cgroup.subtree_control`],
    ["sub-cgroup", `mkdir ${own}/escape`],
    ["root cgroup.procs", `echo $$ > ${MOUNT}/cgroup.procs`],
    ["parent cgroup.procs", `echo $$ > ${parent}/cgroup.procs`],
    ["sibling cgroup.procs", `echo $$ > ${sibling}/cgroup.procs`],
    ["sibling cgroup.kill", `echo 1 > ${sibling}/cgroup.kill`],
    ["sibling memory.max", `echo 4096 > ${sibling}/memory.max`],
    ["parent subtree_control", `echo -memory > ${parent}/cgroup.subtree_control`],
  ];
  return [
    `own=${MOUNT}$(sed -n "s/^0:://p" /proc/self/cgroup); parent=$(dirname "$own")`,
    'try() { if (eval "$2") 2>/tmp/err.$$; then echo "$1: DONE"; else echo "$1: $(tr -d "\\n" < /tmp/err.$$)"; fi; }',
    ...tries.map(([name, command]) => `try ${JSON.stringify(name)} ${JSON.stringify(command)}`),
    "rm -f /tmp/err.$$",
    "echo attempts-done",
  ].join("\n");
}

describe("tenancy: a dynamic-uid job and its cgroup", { timeout: vmTestTimeout }, () => {
  let fx: ManagerFixture;
  before(async () => (fx = await openManager()));
  after(() => fx.close());

  test("it cannot change its limits or leave its cgroup, and the limits still apply: 64 MiB past its 32 MiB is an OOM kill", async () => {
    const sibling = await fx.manager.start({ program: "sleep", args: ["7501"], limits: { memoryMaxBytes: 64 * MiB } }, "bob");
    const limits = { memoryMaxBytes: 32 * MiB, pidsMax: 20, cpu: 0.5 };
    // After the attempts the job waits for the test to look, then allocates 64 MiB (twice its limit).
    const go = 'while [ ! -e "$HOME/go" ]; do sleep 0.1; done';
    const script = `${attempts(String(sibling.cgroup))}\n${go}\nhead -c ${64 * MiB} /dev/zero | tail | wc -c\n`;
    const started = await fx.manager.start({ program: "sh", args: ["-c", script], limits }, "alice");
    const own = String(started.cgroup);
    const text = await stdoutUntil(fx.manager, started.id, "attempts-done");
    assert.ok((started.account?.uid ?? 0) >= 61184, `runs as a dynamic uid: ${String(started.account?.uid)}`);
    // Still where it was put, and its limits as written.
    assert.ok(cgroupProcs(own).length >= 1);
    assert.equal(readFileSync(join(own, "memory.max"), "utf8").trim(), String(32 * MiB));
    assert.equal(readFileSync(join(own, "memory.swap.max"), "utf8").trim(), "0");
    assert.equal(readFileSync(join(own, "memory.oom.group"), "utf8").trim(), "1");
    assert.equal(readFileSync(join(own, "pids.max"), "utf8").trim(), "20");
    assert.equal(readFileSync(join(own, "cpu.max"), "utf8").trim(), "50000 100000");
    assert.equal(readFileSync(join(String(sibling.cgroup), "memory.max"), "utf8").trim(), String(64 * MiB));
    assert.equal(cgroupProcs(MOUNT).some((pid) => cgroupProcs(own).includes(pid)), false);
    const results = new Map(text.split("\n").filter((l) => l.includes(": ")).map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]));
    assert.equal(results.size, 15, text);
    for (const [name, result] of results) assert.match(result, /Permission denied/, `${name}: ${result}`);
    // The allocation after the attempts: killed at 32 MiB.
    await writeFile(join(fx.dataDir, "homes", "alice", "go"), "");
    const { job } = await finished(fx.manager, started.id);
    assert.equal(job.oomKilled, true);
    assert.equal(job.signal, "SIGKILL");
    assert.ok(job.usage.memoryPeakBytes <= 32 * MiB, `peak ${job.usage.memoryPeakBytes}`);
    assert.equal((await fx.manager.get(sibling.id)).state, "running", "bob's job was not touched");
    await fx.manager.stop(sibling.id, { graceMs: 0 });
  });
});
