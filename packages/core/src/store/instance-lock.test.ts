// One manager per data directory and per cgroup parent, across processes: the second refuses and changes nothing.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { lockCgroupParent } from "../cgroup/parent-lock.ts";
import { JobError } from "../job-error.ts";
import { JobManager } from "../job-manager.ts";
import { cgroupExists, followAll, isAlive, openFixture, reachableTempDir, type Fixture, uniqueParent } from "../test-support/fixture.ts";
import { dataDirLockName, dataDirPidName, lockDataDir } from "./data-dir-lock.ts";

const here = fileURLToPath(new URL(".", import.meta.url));

/** A child process holding the lock `what` ("data-dir" or "cgroup") of `target` until it is killed. */
async function holder(what: "data-dir" | "cgroup", target: string): Promise<ChildProcess> {
  const module = what === "data-dir" ? join(here, "data-dir-lock.ts") : join(here, "..", "cgroup", "parent-lock.ts");
  const call = what === "data-dir" ? "lockDataDir" : "lockCgroupParent";
  const code = `const m = await import(${JSON.stringify(module)}); await m.${call}(${JSON.stringify(target)}); process.send("locked"); setInterval(() => {}, 1e6);`;
  const child = spawn(process.execPath, ["--input-type=module", "--eval", code], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const [message] = (await Promise.race([once(child, "message"), once(child, "exit")])) as unknown[];
  assert.equal(message, "locked", "the holder took the lock");
  return child;
}

async function refusal(take: () => Promise<unknown>): Promise<JobError> {
  try {
    await take();
  } catch (err) {
    assert.ok(err instanceof JobError, String(err));
    return err;
  }
  assert.fail("the lock must be refused");
}

describe("instance locks", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-lock-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a data directory held by another process is refused naming its pid, and free again once it is killed", async () => {
    const dataDir = join(dir, "held");
    const child = await holder("data-dir", dataDir);
    try {
      assert.equal(readFileSync(join(dataDir, dataDirPidName), "utf8").split("\n")[0], String(child.pid));
      const err = await refusal(() => lockDataDir(dataDir));
      assert.equal(err.code, "failed_precondition");
      assert.equal(err.message, `data directory ${dataDir} is in use by another process (pid ${child.pid}): only one jobexec instance may use a data directory; stop it or choose another data directory`);
    } finally {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    // The kernel released the dead holder's lock; its files remain until the next holder replaces them.
    const lock = await lockDataDir(dataDir);
    assert.equal(readFileSync(join(dataDir, dataDirPidName), "utf8").split("\n")[0], String(process.pid));
    lock.release();
    assert.deepEqual(await readdir(dataDir), [], "release removes the lock and pid files");
  });

  test("two locks of one process exclude each other too", async () => {
    const dataDir = join(dir, "twice");
    const lock = await lockDataDir(dataDir);
    const err = await refusal(() => lockDataDir(dataDir));
    assert.match(err.message, new RegExp(`in use by another process \\(pid ${process.pid}\\)`));
    lock.release();
    lock.release();
    (await lockDataDir(dataDir)).release();
  });

  test("a cgroup parent is locked by its full path: the same path is refused, another is not", async () => {
    const lockDir = join(dir, "run");
    const a = await lockCgroupParent("/sys/fs/cgroup/x/jobexec", lockDir);
    const err = await refusal(() => lockCgroupParent("/sys/fs/cgroup/x/jobexec", lockDir));
    assert.match(err.message, /^cgroup parent \/sys\/fs\/cgroup\/x\/jobexec is in use by another process \(pid \d+\): /);
    const b = await lockCgroupParent("/sys/fs/cgroup/y/jobexec", lockDir);
    const pidFile = (await readdir(lockDir)).find((f) => f.endsWith(".pid"));
    assert.ok(pidFile);
    assert.match(readFileSync(join(lockDir, pidFile), "utf8"), /^\d+\n\/sys\/fs\/cgroup\/[xy]\/jobexec\n$/);
    a.release();
    b.release();
    assert.deepEqual(await readdir(lockDir), []);
  });

  test("where the first place for cgroup parent locks cannot be written (read-only /run), the next one is used", async () => {
    const notADir = join(dir, "file");
    await writeFile(notADir, "");
    const fallback = join(dir, "fallback");
    const lock = await lockCgroupParent("/sys/fs/cgroup/z/jobexec", [join(notADir, "jobexec"), fallback]);
    assert.equal((await readdir(fallback)).length, 2);
    const err = await refusal(() => lockCgroupParent("/sys/fs/cgroup/z/jobexec", [join(notADir, "jobexec"), fallback]));
    assert.match(err.message, /is in use by another process/);
    lock.release();
  });

  test("a lock directory another uid made first (the temporary directory's jobexec-UID) is refused, nothing written in it", async () => {
    // As a job would: made by another account, open to everyone, before the server's first start.
    const shared = await mkdtemp(join(tmpdir(), "jobexec-lock-tmp-"));
    try {
      await chmod(shared, 0o1777);
      const planted = join(shared, "jobexec-0");
      const made = spawnSync("mkdir", ["-m", "0777", planted], { uid: 65534, gid: 65534, encoding: "utf8" });
      assert.equal(made.status, 0, made.stderr);
      const err = await refusal(() => lockCgroupParent("/sys/fs/cgroup/p/jobexec", [planted]));
      assert.equal(err.code, "failed_precondition");
      assert.equal(err.message, `cannot lock cgroup parent /sys/fs/cgroup/p/jobexec: the lock directory ${planted} is owned by uid 65534, not by us (uid 0), so another user may have made it; remove it (it is made again at the next start)`);
      assert.deepEqual(await readdir(planted), []);
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
    // Ours but writable by others, or a link to a directory: refused too.
    const loose = join(dir, "loose");
    await mkdir(loose);
    await chmod(loose, 0o777);
    assert.match((await refusal(() => lockCgroupParent("/sys/fs/cgroup/p/jobexec", [loose]))).message, /the lock directory \S+loose is writable by others \(mode 0777\)/);
    const link = join(dir, "link");
    await symlink(join(dir, "run"), link);
    assert.match((await refusal(() => lockCgroupParent("/sys/fs/cgroup/p/jobexec", [link]))).message, /the lock directory \S+link is not a directory/);
  });

  describe("a second JobManager", () => {
    let fx: Fixture;
    before(async () => {
      fx = await openFixture();
    });
    after(() => fx.close());

    test("on the same data directory refuses before touching it: the first one's output and jobs stay", async () => {
      const done = await fx.manager.start({ program: "echo", args: ["kept"] }, "alice");
      await followAll(fx.manager, done.id);
      const running = await fx.manager.start({ program: "sleep", args: ["600"] }, "alice");
      const err = await refusal(() => JobManager.create({ dataDir: fx.dataDir, cgroupParent: uniqueParent() }));
      assert.match(err.message, new RegExp(`^data directory ${fx.dataDir} is in use by another process \\(pid ${process.pid}\\)`));
      assert.equal(readFileSync(join(fx.dataDir, "jobs", done.id, "stdout"), "utf8"), "kept\n");
      assert.ok(isAlive(running.pid));
      assert.equal((await fx.manager.get(running.id)).state, "running");
      const next = await fx.manager.start({ program: "echo", args: ["still works"] }, "alice");
      assert.equal((await followAll(fx.manager, next.id)).stdout.toString(), "still works\n");
      await fx.manager.stop(running.id, { graceMs: 0 });
    });

    test("on the same cgroup parent refuses before touching it: the first one's running job and cgroup stay", async (t) => {
      if (fx.manager.cgroups.mode === "none") return t.skip("no cgroup v2 on this host");
      const running = await fx.manager.start({ program: "sleep", args: ["600"] }, "alice");
      const other = await mkdtemp(join(tmpdir(), "jobexec-core-"));
      try {
        const err = await refusal(() => JobManager.create({ dataDir: other, cgroupParent: fx.cgroupParent }));
        assert.match(err.message, new RegExp(`^cgroup parent ${fx.manager.cgroups.parent} is in use by another process \\(pid ${process.pid}\\)`));
        assert.deepEqual(await readdir(other), [], "the refused manager left nothing in its own data directory");
      } finally {
        await rm(other, { recursive: true, force: true });
      }
      assert.ok(isAlive(running.pid));
      assert.ok(cgroupExists(running.cgroup));
      const next = await fx.manager.start({ program: "true" }, "alice");
      await followAll(fx.manager, next.id);
      assert.equal((await fx.manager.get(next.id)).state, "exited");
      await fx.manager.stop(running.id, { graceMs: 0 });
    });

    test("after close(), the data directory and the cgroup parent are free for the next manager", async () => {
      const dataDir = await reachableTempDir("jobexec-core-");
      const parent = uniqueParent();
      try {
        const first = await JobManager.create({ dataDir, cgroupParent: parent });
        await first.close();
        assert.ok(!existsSync(join(dataDir, dataDirLockName)));
        const second = await JobManager.create({ dataDir, cgroupParent: parent });
        await second.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    });
  });
});
