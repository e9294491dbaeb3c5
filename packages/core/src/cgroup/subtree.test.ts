// Integration: the manager's sub-tree on the real hierarchy: leftovers of an earlier run, the supervisor leaf.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { JobManager } from "../job-manager.ts";
import { isAlive, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { LogEvent } from "../types.ts";
import { detectCgroup2 } from "./subtree.ts";

const { mount } = await detectCgroup2();
const skip = mount === undefined ? "no cgroup v2 on this host" : false;

test("create() kills and removes leftovers of an earlier run, and logs them", { skip, timeout: 30_000 }, async () => {
  const cgroupParent = uniqueParent();
  const dataDir = await reachableTempDir("jobexec-core-leftovers-");
  // An earlier run's job: a cgroup with a live process, and its output directory.
  const leftover = join(mount as string, cgroupParent, randomUUID());
  await mkdir(leftover, { recursive: true });
  const sleeper = spawn("sleep", ["1000"], { stdio: "ignore" });
  // Not left behind if create() fails.
  const killSleeper = (): boolean => sleeper.kill("SIGKILL");
  const pid = sleeper.pid as number;
  await writeFile(join(leftover, "cgroup.procs"), String(pid));
  await mkdir(join(dataDir, "jobs", "old-job"), { recursive: true });
  await writeFile(join(dataDir, "jobs", "old-job", "stdout"), "old");

  const logs: LogEvent[] = [];
  const manager = await JobManager.create({ dataDir, cgroupParent, log: (e) => logs.push(e) }).catch(async (err: unknown) => {
    killSleeper();
    await rmdir(leftover).catch(() => undefined);
    await rmdir(join(mount as string, cgroupParent)).catch(() => undefined);
    throw err;
  });
  try {
    assert.equal(existsSync(leftover), false);
    await new Promise((resolve) => (sleeper.exitCode === null && sleeper.signalCode === null ? sleeper.once("exit", resolve) : resolve(undefined)));
    assert.equal(isAlive(pid), false);
    assert.equal(sleeper.signalCode, "SIGKILL");
    assert.equal(existsSync(join(dataDir, "jobs", "old-job")), false);
    assert.ok(logs.some((e) => e.level === "warn" && e.message.includes(`removed leftover job cgroup ${leftover}`) && e.message.includes(String(pid))));
    assert.ok(logs.some((e) => e.message.includes("old-job")));
  } finally {
    await manager.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

// Runs in a child process, which moves itself out of the root cgroup first: the manager must then move it
// into a "supervisor" leaf and make the jobs' parent a sibling, and move it back on the last close().
const childScript = `
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { JobManager } from ${JSON.stringify(new URL("../index.ts", import.meta.url).href)};
const [own, dataDir] = process.argv.slice(1);
const self = () => readFileSync("/proc/self/cgroup", "utf8").split("\\n").find((l) => l.startsWith("0::")).slice(3);
await mkdir(own);
await writeFile(own + "/cgroup.procs", String(process.pid));
const report = { before: self() };
const [a, b] = await Promise.all([
  JobManager.create({ dataDir: dataDir + "/a", cgroupParent: "jobs-a" }),
  JobManager.create({ dataDir: dataDir + "/b", cgroupParent: "nested/jobs-b" }),
]);
report.during = self();
report.parents = [a.cgroups.parent, b.cgroups.parent];
const job = await a.start({ program: "cat", args: ["/proc/self/cgroup"] }, "x");
let out = "";
for await (const c of a.output(job.id, { follow: true })) out += Buffer.from(c.data).toString();
report.job = out.split("\\n").find((l) => l.startsWith("0::")).slice(3);
report.jobId = job.id;
await a.close();
report.afterFirstClose = self();
await b.close();
report.after = self();
console.log(JSON.stringify(report));
`;

test("a server outside the root cgroup moves into a supervisor leaf; jobs are its siblings; close() moves it back", { skip, timeout: 30_000 }, async () => {
  const ownName = uniqueParent();
  const own = join(mount as string, ownName);
  const dataDir = await reachableTempDir("jobexec-core-supervisor-");
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", childScript, own, dataDir]);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(report.before, `/${ownName}`);
    assert.equal(report.during, `/${ownName}/supervisor`);
    assert.deepEqual(report.parents, [join(own, "jobs-a"), join(own, "nested/jobs-b")]);
    assert.equal(report.job, `/${ownName}/jobs-a/${String(report.jobId)}`);
    assert.equal(report.afterFirstClose, `/${ownName}/supervisor`, "the other manager still needs the leaf");
    assert.equal(report.after, `/${ownName}`);
    for (const dir of ["supervisor", "jobs-a", "nested"]) assert.equal(existsSync(join(own, dir)), false, dir);
  } finally {
    await rmdir(own).catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("detectCgroup2 reads this process's mount and cgroup", { skip }, async () => {
  const found = await detectCgroup2();
  const text = await readFile("/proc/self/cgroup", "utf8");
  assert.ok(text.includes(`0::${String(found.own)}`));
  assert.ok(existsSync(join(found.mount as string, "cgroup.controllers")));
});
