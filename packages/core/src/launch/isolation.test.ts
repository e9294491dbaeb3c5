// Integration: jobs isolated on request (network none, private /tmp, read-only system), started cold and from
// standbys, as dynamic accounts, with real processes on this host. Limits on the tmpfs pages are the VM tier's.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jobNode } from "@jobexec/testing-slow";
import { JobError } from "../job-error.ts";
import { NO_ISOLATION, resolveIsolation } from "../spec/isolation.ts";
import { type Fixture, followAll, openFixture, standbysReady } from "../test-support/fixture.ts";
import type { Job, JobSpec } from "../types.ts";

const timeout = 60_000;
// Data directories (and so the jobs' homes) outside /tmp, which a private /tmp hides.
const base = "/var/lib";

async function run(fx: Fixture, spec: JobSpec, owner = "alice"): Promise<{ job: Job; stdout: string; stderr: string }> {
  const started = await fx.manager.start(spec, owner);
  const out = await followAll(fx.manager, started.id);
  return { job: await fx.manager.get(started.id), stdout: out.stdout.toString(), stderr: out.stderr.toString() };
}

const sh = (script: string, isolation: JobSpec["isolation"], extra: Partial<JobSpec> = {}): JobSpec => ({ program: "/bin/sh", args: ["-c", script], isolation, ...extra });

/** Resolves once the job's stdout holds `text`. */
async function untilOutput(fx: Fixture, id: string, text: string): Promise<string> {
  const file = join(fx.dataDir, "jobs", id, "stdout");
  for (let i = 0; i < 1500; i++) {
    const out = existsSync(file) ? readFileSync(file, "utf8") : "";
    if (out.includes(text)) return out;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`job ${id} never wrote ${JSON.stringify(text)}`);
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

// Each case runs with the standby pool off (cold: a fresh cgexec) and on (the job taken by a waiting standby).
for (const standby of [0, 2]) {
  describe(`isolation, ${standby === 0 ? "cold starts" : "from standbys"}`, { timeout }, () => {
    let fx: Fixture;
    let scratch: string;
    before(async () => {
      fx = await openFixture({ standby }, base);
      if (standby > 0) await standbysReady(fx.manager);
      scratch = await mkdtemp(join(base, "jobexec-isolation-"));
      await chmod(scratch, 0o777);
    });
    after(async () => {
      await fx.close();
      await rm(scratch, { recursive: true, force: true });
    });

    test("network none: only lo, up; the host's loopback and the job's own listener are out of each other's reach", async () => {
      const host = createServer((socket) => socket.end("host\n"));
      const port = await listen(host);
      try {
        // The job lists its interfaces, connects to the host's listener, then to a listener of its own (lo is up).
        const script = `
const net = require("node:net");
const fs = require("node:fs");
const names = fs.readFileSync("/proc/net/dev", "utf8").split("\\n").slice(2).filter(Boolean).map((l) => l.split(":")[0].trim());
console.log("interfaces " + names.join(","));
const c = net.connect(${String(port)}, "127.0.0.1");
c.on("data", () => console.log("host reached"));
c.on("error", (e) => {
  console.log("host " + e.code);
  const own = net.createServer((s) => s.end("own\\n")).listen(0, "127.0.0.1", () => {
    net.connect(own.address().port, "127.0.0.1").on("data", (d) => { console.log("own " + d.toString().trim()); process.exit(0); });
  });
});`;
        const { job, stdout } = await run(fx, { program: jobNode, args: ["-e", script], isolation: { privateNetwork: true } });
        assert.equal(job.state, "exited", JSON.stringify(job));
        assert.deepEqual(job.isolation, { ...NO_ISOLATION, privateNetwork: true });
        assert.equal(stdout, "interfaces lo\nhost ECONNREFUSED\nown own\n");
      } finally {
        host.close();
      }
      // A listener the job opens on its loopback cannot be reached from the host's.
      const probe = createServer();
      const free = await listen(probe);
      probe.close();
      const started = await fx.manager.start({ program: jobNode, args: ["-e", `require("node:net").createServer().listen(${String(free)}, "127.0.0.1", () => console.log("listening"))`], isolation: { privateNetwork: true } }, "alice");
      try {
        await untilOutput(fx, started.id, "listening");
        const code = await new Promise<string>((resolve) => {
          const socket = connect(free, "127.0.0.1");
          socket.on("connect", () => resolve("connected"));
          socket.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        });
        assert.equal(code, "ECONNREFUSED");
      } finally {
        await fx.manager.stop(started.id, { graceMs: 0 });
      }
    });

    test("private /tmp: a fresh 1777 tmpfs on /tmp and /var/tmp, unseen by the host and by a second job at the same time, and size-limited", async () => {
      const marker = `jobexec-isolation-${randomUUID()}`;
      // Job A writes its marker and waits; job B, meanwhile, lists its /tmp; the host looks for the marker.
      const a = await fx.manager.start(sh(`echo a > /tmp/${marker} && echo a > /var/tmp/${marker} && stat -c '%a %U' /tmp /var/tmp && stat -f -c %T /tmp && echo written && sleep 30`, { privateTmp: true }), "alice");
      try {
        assert.equal(await untilOutput(fx, a.id, "written"), "1777 root\n1777 root\ntmpfs\nwritten\n");
        assert.equal(existsSync(`/tmp/${marker}`), false);
        assert.equal(existsSync(`/var/tmp/${marker}`), false);
        // Visible only through the job's own root.
        assert.equal(existsSync(`/proc/${String(a.pid)}/root/tmp/${marker}`), true);
        const b = await run(fx, sh(`ls -A /tmp /var/tmp`, { privateTmp: true }), "bob");
        assert.equal(b.stdout, "/tmp:\n\n/var/tmp:\n");
      } finally {
        await fx.manager.stop(a.id, { graceMs: 0 });
      }
      // Gone with the job: nothing on the host, nothing in the next job's.
      const again = await run(fx, sh(`ls -A /tmp`, { privateTmp: true }), "alice");
      assert.equal(again.stdout, "");
      assert.equal(existsSync(`/tmp/${marker}`), false);
      // The size limit: 1 MiB holds 1 MiB, and no more.
      const full = await run(fx, sh(`head -c 1048576 /dev/zero > /tmp/fits && echo fits; head -c 1048577 /dev/zero > /var/tmp/over || echo over`, { privateTmp: true, privateTmpBytes: 1024 * 1024 }));
      assert.equal(full.stdout, "fits\nover\n");
      assert.match(full.stderr, /No space left on device/);
      assert.equal(full.job.isolation.privateTmpBytes, 1024 * 1024);
    });

    test("read-only system: writes under /usr and /etc fail with EROFS; home, cwd and the private /tmp stay writable", async () => {
      const id = randomUUID().slice(0, 8);
      // Directories the job's account could write to, were the system writable.
      const usr = `/usr/local/jobexec-isolation-${id}`;
      const etc = `/etc/jobexec-isolation-${id}`;
      const cwd = join(scratch, "work");
      for (const dir of [usr, etc, cwd]) {
        await mkdir(dir);
        await chmod(dir, 0o777);
      }
      try {
        const script = `for d in ${usr} ${etc} / /var "$HOME" . /tmp; do if echo x > "$d/f" 2>/dev/null; then echo "$d ok"; else echo "$d $(echo x 2>&1 > "$d/f" | sed 's/.*: //')"; fi; done`;
        const ro = await run(fx, sh(script, { readOnlySystem: true, privateTmp: true }, { cwd }));
        assert.equal(ro.job.state, "exited", JSON.stringify(ro.job));
        const lines = ro.stdout.trim().split("\n");
        assert.deepEqual(lines.slice(0, 4), [`${usr} Read-only file system`, `${etc} Read-only file system`, "/ Read-only file system", "/var Read-only file system"]);
        assert.deepEqual(lines.slice(4), [`${join(fx.dataDir, "homes", "alice")} ok`, ". ok", "/tmp ok"]);
        // The same job without it writes where its account may.
        const rw = await run(fx, sh(`echo x > ${usr}/f && echo x > ${etc}/f && echo wrote`, {}, { cwd }));
        assert.equal(rw.stdout, "wrote\n");
      } finally {
        for (const dir of [usr, etc, cwd]) await rm(dir, { recursive: true, force: true });
      }
    });

    test("all three together, with limits off and as a dynamic account", async () => {
      const { job, stdout } = await run(fx, sh(`id -u; cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '; ls -A /tmp; grep NoNewPrivs /proc/self/status`, { privateNetwork: true, privateTmp: true, readOnlySystem: true }));
      assert.equal(job.state, "exited", JSON.stringify(job));
      assert.deepEqual(job.isolation, { privateNetwork: true, privateTmp: true, privateTmpBytes: 64 * 1024 * 1024, readOnlySystem: true });
      assert.equal(stdout, `${String(job.account?.uid)}\nlo\nNoNewPrivs:\t1\n`);
      assert.notEqual(job.account?.uid, 0);
    });

    test("a failed isolation step is a failed start with the reason, and the program never runs", async () => {
      // The program is a link into /tmp: found at validation, hidden once the private /tmp is mounted.
      const real = join("/tmp", `jobexec-isolation-${randomUUID()}`);
      const link = join(scratch, "prog");
      await writeFile(real, "#!/bin/sh\necho ran\n", { mode: 0o755 });
      await rm(link, { force: true });
      await symlink(real, link);
      try {
        const job = await fx.manager.start({ program: link, isolation: { privateTmp: true } }, "alice");
        assert.equal(job.state, "failed");
        assert.equal(job.failureReason, `${link}: no such file or directory`);
        assert.equal((await followAll(fx.manager, job.id)).stdout.length, 0);
      } finally {
        await rm(real, { force: true });
      }
    });

    test("what a private /tmp would hide, and bad fields, are refused before anything starts", async () => {
      const refuse = async (spec: JobSpec, code: string, message: RegExp): Promise<void> => {
        await assert.rejects(fx.manager.start(spec, "alice"), (err: unknown) => err instanceof JobError && err.code === code && message.test(err.message));
      };
      await refuse(sh("true", { privateTmp: true }, { cwd: "/tmp" }), "invalid_argument", /^cwd "\/tmp" is under \/tmp, which a private \/tmp hides/);
      await refuse({ program: "/tmp", isolation: { privateTmp: true } }, "invalid_argument", /program/);
      await refuse(sh("true", { privateTmpBytes: 1024 }), "invalid_argument", /^isolation.privateTmpBytes needs isolation.privateTmp$/);
      await refuse(sh("true", { privateTmp: true, privateTmpBytes: -1 }), "invalid_argument", /privateTmpBytes must be a whole number of bytes above 0/);
      await refuse(sh("true", { privateNetwork: "yes" as unknown as boolean }), "invalid_argument", /^isolation.privateNetwork must be true or false$/);
    });

    test(standby === 0 ? "every job started cold" : "the isolated jobs came from the same standbys as the others", () => {
      const { warmStarts, coldStarts, target } = fx.manager.standbys;
      if (standby === 0) assert.deepEqual([warmStarts > 0, coldStarts > 0], [false, true]);
      else {
        assert.ok(warmStarts >= 7, JSON.stringify(fx.manager.standbys));
        // One kind of standby serves every job of its output mode: cgexec-enter isolates at take.
        assert.equal(target, standby);
      }
    });
  });
}

describe("isolation defaults and host support", { timeout }, () => {
  test("the manager's defaults apply to fields a spec leaves unset; a spec may ask for more, or turn one off", async () => {
    const fx = await openFixture({ standby: 0, defaultIsolation: { privateNetwork: true, privateTmpBytes: 2 * 1024 * 1024 } }, base);
    try {
      const plain = await run(fx, sh("cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' '", undefined));
      assert.equal(plain.stdout, "lo\n");
      assert.deepEqual(plain.job.isolation, { ...NO_ISOLATION, privateNetwork: true });
      const more = await run(fx, sh("df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2", { privateTmp: true }));
      assert.equal(more.stdout, "2048\n");
      assert.deepEqual(more.job.isolation, { privateNetwork: true, privateTmp: true, privateTmpBytes: 2 * 1024 * 1024, readOnlySystem: false });
      const off = await run(fx, sh("cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | grep -vx lo | wc -l", { privateNetwork: false }));
      assert.notEqual(off.stdout, "0\n");
      assert.equal(off.job.isolation.privateNetwork, false);
    } finally {
      await fx.close();
    }
    await assert.rejects(openFixture({ defaultIsolation: { privateTmpBytes: 0 } }, base), /defaultIsolation.privateTmpBytes must be a whole number of bytes above 0/);
  });

  test("isolation the host cannot give is failed_precondition naming what is missing", () => {
    const support = { network: "this kernel has no network namespaces (CONFIG_NET_NS)", mounts: "this kernel has no mount namespaces" };
    assert.throws(
      () => resolveIsolation({ privateNetwork: true }, {}, support, 1 << 30),
      (err: unknown) => err instanceof JobError && err.code === "failed_precondition" && err.message === "a private network (isolation.privateNetwork) is not available on this host: this kernel has no network namespaces (CONFIG_NET_NS)",
    );
    assert.throws(() => resolveIsolation({ readOnlySystem: true }, {}, support, 1 << 30), /^JobError: a read-only system \(isolation.readOnlySystem\) is not available on this host: this kernel has no mount namespaces$/);
    // What is not asked for is not checked.
    assert.deepEqual(resolveIsolation({}, {}, support, 1 << 30), NO_ISOLATION);
  });
});
