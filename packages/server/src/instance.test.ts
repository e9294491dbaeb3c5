// One server per data directory, per cgroup parent and per port: a second one refuses with one sentence and changes
// nothing; the first one keeps working.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { JobState } from "@jobexec/proto";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { createPki } from "./test-support/pki.ts";
import { readOutput } from "./test-support/test-harness.ts";
import { alive, startServerProcess, type ServerProcess } from "./test-support/test-process.ts";

/** The live server still starts a job and streams its output. */
async function stillWorks(s: ServerProcess): Promise<void> {
  const alice = s.jobs(s.pki.alice);
  const { job } = await alice.startJob({ program: "echo", args: ["still here"] });
  assert.ok(job);
  const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
  assert.equal(out.stdout.toString(), "still here\n");
  assert.equal(out.job?.state, JobState.EXITED);
}

describe("a second server (jobexec-server processes)", { timeout: 120_000 }, () => {
  test("on the same data directory, the same cgroup parent or the same port refuses in one sentence and changes nothing", async () => {
    const pki = await createPki();
    const dir = await mkdtemp(join(tmpdir(), "jobexec-instance-"));
    await chmod(dir, 0o711);
    const dataDir = join(dir, "data");
    const cgroupParent = testCgroupParent();
    const live = await startServerProcess({ pki, dataDir, cgroupParent });
    try {
      const alice = live.jobs(pki.alice);
      const { job: done } = await alice.startJob({ program: "echo", args: ["kept"] });
      const { job: running } = await alice.startJob({ program: "sleep", args: ["600"] });
      assert.ok(done && running);
      await readOutput(alice.streamOutput({ id: done.id, follow: true }));
      const outputs = () => readdirSync(join(live.dataDir, "jobs")).sort();
      const before = outputs();

      const sameData = await startServerProcess({ pki, dataDir: live.dataDir, expectExit: true });
      assert.equal(await sameData.exit, 1);
      assert.deepEqual(sameData.stderr, [
        `jobexec-server: data directory ${live.dataDir} is in use by another process (pid ${live.pid}): only one jobexec instance may use a data directory; stop it or choose another data directory`,
      ]);
      await sameData.stop();

      const sameParent = await startServerProcess({ pki, cgroupParent: live.cgroupParent, expectExit: true });
      assert.equal(await sameParent.exit, 1);
      assert.equal(sameParent.stderr.length, 1, sameParent.stderr.join("\n"));
      assert.match(sameParent.stderr[0] ?? "", new RegExp(`^jobexec-server: cgroup parent \\S+/${live.cgroupParent} is in use by another process \\(pid ${live.pid}\\): only one jobexec instance may manage a cgroup parent`));
      await sameParent.stop();

      const samePort = await startServerProcess({ pki, args: ["--listen", `127.0.0.1:${live.port}`], cgroupParent: live.cgroupParent, dataDir: live.dataDir, expectExit: true });
      assert.equal(await samePort.exit, 1);
      assert.deepEqual(samePort.stderr, [`jobexec-server: cannot listen on 127.0.0.1:${live.port}: the address is in use`], "the port is checked before anything else");
      await samePort.stop();

      // Nothing of the live server's was touched: its output, its running job and that job's cgroup.
      assert.deepEqual(outputs(), before);
      assert.equal(readFileSync(join(live.dataDir, "jobs", done.id, "stdout"), "utf8"), "kept\n");
      assert.ok(alive(running.pid), "the running job was not killed");
      if (running.cgroup !== "") assert.ok(existsSync(running.cgroup), "nor its cgroup removed");
      assert.equal((await alice.getJob({ id: running.id })).job?.state, JobState.RUNNING);
      await stillWorks(live);
      await alice.stopJob({ id: running.id, gracePeriod: {} });
    } finally {
      await live.stop();
    }
    // Once it stopped, its data directory and cgroup parent are free again.
    const next = await startServerProcess({ pki, dataDir, cgroupParent });
    try {
      await stillWorks(next);
    } finally {
      await next.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
