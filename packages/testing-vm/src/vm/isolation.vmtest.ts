// Isolation on a real cgroup v2 kernel with every controller: a private /tmp's pages count against the job's
// memory.max (and its size holds below it), and the job's account cannot undo its namespaces or mounts.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import type { JobSpec } from "@jobexec/core";
import { type ManagerFixture, finished, openManager, stdoutUntil, vmTestTimeout } from "./support.ts";

const MiB = 1024 * 1024;
// The job's own cgroup file, read by the job itself.
const own = (file: string): string => `cat "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/${file}"`;

describe("isolation, in the VM", { timeout: vmTestTimeout, concurrency: false }, () => {
  let fx: ManagerFixture;
  // /run is the VM's own tmpfs: outside /tmp, which a private /tmp hides.
  before(async () => (fx = await openManager("/run")));
  after(() => fx.close());

  const sh = (script: string, extra: Partial<JobSpec>): JobSpec => ({ program: "/bin/sh", args: ["-c", script], ...extra });

  test("a private /tmp's pages are charged to the job's cgroup: 8 MiB written show in its memory.current", async () => {
    const started = await fx.manager.start(
      sh(`head -c ${8 * MiB} /dev/zero > /tmp/fill && ${own("memory.current")} && echo written && sleep 60`, { isolation: { privateTmp: true }, limits: { memoryMaxBytes: 64 * MiB } }),
      "alice",
    );
    try {
      const out = await stdoutUntil(fx.manager, started.id, "written");
      const current = Number(out.split("\n")[0]);
      assert.ok(current >= 8 * MiB, `memory.current ${current} with 8 MiB in the private /tmp`);
    } finally {
      await fx.manager.stop(started.id, { graceMs: 0 });
    }
  });

  test("past memory.max the job is OOM-killed (the tmpfs is larger than the limit); below it the tmpfs size gives ENOSPC", async () => {
    // tmpfs pages cannot be reclaimed without swap (memory.swap.max is 0): filling /tmp past memory.max kills the job.
    const over = await fx.manager.start(sh(`head -c ${32 * MiB} /dev/zero > /tmp/fill; echo survived`, { isolation: { privateTmp: true, privateTmpBytes: 64 * MiB }, limits: { memoryMaxBytes: 16 * MiB } }), "alice");
    const killed = await finished(fx.manager, over.id);
    assert.equal(killed.job.oomKilled, true, JSON.stringify(killed.job));
    assert.equal(killed.stdout, "");
    assert.ok(killed.job.usage.memoryPeakBytes <= 16 * MiB, `peak ${killed.job.usage.memoryPeakBytes}`);
    // The same fill against a 4 MiB tmpfs under a 64 MiB limit: the size holds first, the job goes on.
    const full = await fx.manager.start(sh(`head -c ${8 * MiB} /dev/zero > /tmp/fill || echo full; wc -c < /tmp/fill`, { isolation: { privateTmp: true, privateTmpBytes: 4 * MiB }, limits: { memoryMaxBytes: 64 * MiB } }), "alice");
    const nospc = await finished(fx.manager, full.id);
    assert.deepEqual([nospc.job.state, nospc.job.exitCode, nospc.job.oomKilled, nospc.stdout], ["exited", 0, false, `full\n${4 * MiB}\n`]);
    assert.match(nospc.stderr, /No space left on device/);
  });

  test("network none with limits, as a dynamic account: only lo, and the VM's loopback listener is out of reach", async () => {
    const host = createServer((socket) => socket.end("host\n"));
    await new Promise<void>((resolve) => host.listen(0, "127.0.0.1", resolve));
    const { port } = host.address() as { port: number };
    try {
      const script = `tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; id -u; (exec 3<>/dev/tcp/127.0.0.1/${String(port)}) 2>/dev/null && echo reached || echo unreachable`;
      // bash for /dev/tcp; its absence fails the test rather than passing it.
      const { job, stdout } = await finished(fx.manager, (await fx.manager.start({ program: "/bin/bash", args: ["-c", script], isolation: { privateNetwork: true }, limits: { memoryMaxBytes: 64 * MiB, pidsMax: 16 } }, "alice")).id);
      assert.equal(job.state, "exited", JSON.stringify(job));
      assert.equal(stdout, `lo\n${String(job.account?.uid)}\nunreachable\n`);
      assert.ok((job.account?.uid ?? 0) >= 61184);
    } finally {
      host.close();
    }
  });

  test("the account cannot undo it, in a user namespace of its own either; no_new_privs holds", async () => {
    const script = [
      "grep NoNewPrivs /proc/self/status",
      "umount /tmp 2>/dev/null && echo 'umount worked' || echo 'umount refused'",
      "mount -o remount,rw / 2>/dev/null && echo 'remount worked' || echo 'remount refused'",
      "nsenter -t 1 -n true 2>/dev/null && echo 'entered the host network' || echo 'nsenter refused'",
      // Where the kernel gives the account a user namespace, the mounts it inherits are locked there.
      "if unshare -U -r -m true 2>/dev/null; then unshare -U -r -m sh -c 'umount /tmp 2>/dev/null || mount -o remount,rw / 2>/dev/null || echo locked'; else echo 'no user namespace'; fi",
      "ls -A /tmp",
    ].join("; ");
    const { job, stdout } = await finished(fx.manager, (await fx.manager.start(sh(script, { isolation: { privateNetwork: true, privateTmp: true, readOnlySystem: true }, limits: { memoryMaxBytes: 64 * MiB } }), "alice")).id);
    assert.equal(job.state, "exited", JSON.stringify(job));
    const lines = stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 4), ["NoNewPrivs:\t1", "umount refused", "remount refused", "nsenter refused"]);
    assert.ok(lines[4] === "locked" || lines[4] === "no user namespace", stdout);
    assert.equal(lines.length, 5, "the private /tmp is still empty: nothing of the VM's /tmp showed through");
  });
});
