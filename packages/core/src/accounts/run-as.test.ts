// Integration: jobs run as their owner's account in each run-as mode, on this host's real accounts and cgroups.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { JobManager } from "../job-manager.ts";
import { type Fixture, followAll, openFixture, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { LogEvent } from "../types.ts";
import { readLocalAccounts } from "./local-accounts.ts";

const skip = process.getuid?.() !== 0 && "needs root";

/** What a job of `owner` reports about itself: ids, groups, environment, where it runs. */
async function identity(fx: Fixture, owner: string): Promise<{ uid: number; gid: number; groups: string; env: string; pwd: string; job: Awaited<ReturnType<JobManager["get"]>> }> {
  const script = 'id -u; id -g; grep "^Groups:" /proc/self/status; echo "$HOME $USER $LOGNAME"; pwd';
  const started = await fx.manager.start({ program: "sh", args: ["-c", script] }, owner);
  const out = (await followAll(fx.manager, started.id)).stdout.toString().split("\n");
  const job = await fx.manager.get(started.id);
  assert.equal(job.exitCode, 0, out.join("\n"));
  return { uid: Number(out[0]), gid: Number(out[1]), groups: (out[2] ?? "").replace(/^Groups:\s*/, "").trim(), env: out[3] ?? "", pwd: out[4] ?? "", job };
}

describe("run-as dynamic (the default)", { skip, timeout: 60_000 }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture();
  });
  after(() => fx.close());

  test("alice's jobs share one uid of the range, bob's is another; HOME, USER, LOGNAME and the cwd are theirs", async () => {
    const [a1, a2, b] = [await identity(fx, "alice"), await identity(fx, "alice"), await identity(fx, "bob")];
    assert.ok(a1.uid >= 61184 && a1.uid <= 65519, String(a1.uid));
    assert.equal(a2.uid, a1.uid);
    assert.notEqual(b.uid, a1.uid);
    assert.equal(a1.gid, a1.uid, "the gid is the uid's number");
    assert.equal(a1.groups, "", "no supplementary groups (root's are cleared)");
    const home = join(fx.dataDir, "homes", "alice");
    assert.deepEqual([a1.env, a1.pwd], [`${home} alice alice`, home]);
    assert.deepEqual(a1.job.account, { name: "alice", uid: a1.uid, gid: a1.uid });
    assert.deepEqual(b.job.account, { name: "bob", uid: b.uid, gid: b.uid });
    const stats = await stat(home);
    assert.deepEqual([stats.uid, stats.gid, stats.mode & 0o7777], [a1.uid, a1.uid, 0o700]);
    assert.equal((await stat(join(fx.dataDir, "homes"))).mode & 0o7777, 0o711);
    assert.equal((await stat(join(fx.dataDir, "jobs"))).mode & 0o7777, 0o700);
    const stored = JSON.parse(await readFile(join(fx.dataDir, "accounts.json"), "utf8")) as unknown;
    assert.deepEqual(stored, { version: 1, uids: { alice: a1.uid, bob: b.uid } });
  });

  test("a job may write its home; an identity with an odd name gets a safe home of its own", async () => {
    const job = await fx.manager.start({ program: "sh", args: ["-c", 'echo kept > "$HOME/file" && cat "$HOME/file" && pwd'] }, "../x y");
    const out = (await followAll(fx.manager, job.id)).stdout.toString();
    assert.equal(out, `kept\n${join(fx.dataDir, "homes", "%2E.%2Fx%20y")}\n`);
  });

  test("a quota counts running jobs per identity: one more is resource_exhausted naming the limit, even when started at once", async () => {
    const quota = { maxRunning: 2, name: "--max-jobs-per-user" };
    const starts = await Promise.allSettled(Array.from({ length: 5 }, () => fx.manager.start({ program: "sleep", args: ["100"] }, "carol", { quota, policy: "refuse" })));
    const started = starts.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    const refused = starts.flatMap((s) => (s.status === "rejected" ? [s.reason as { code: string; message: string }] : []));
    assert.equal(started.length, 2);
    assert.equal(refused.length, 3);
    for (const err of refused) {
      assert.equal(err.code, "resource_exhausted");
      assert.equal(err.message, "carol already has 2 running jobs, the limit of 2 running jobs per identity (--max-jobs-per-user): stop one or wait for one to end");
    }
    // Another identity is not affected, and a slot frees when a job ends.
    const other = await fx.manager.start({ program: "true" }, "dave", { quota, policy: "refuse" });
    await followAll(fx.manager, other.id);
    await fx.manager.stop(started[0]?.id as string, { graceMs: 0 });
    // A start refused for bad input gives its slot back.
    await assert.rejects(fx.manager.start({ program: "no-such-program-xyz" }, "carol", { quota, policy: "refuse" }), { code: "invalid_argument" });
    const next = await fx.manager.start({ program: "sleep", args: ["100"] }, "carol", { quota, policy: "refuse" });
    assert.equal(next.state, "running");
    await assert.rejects(fx.manager.start({ program: "true" }, "carol", { quota, policy: "refuse" }), { code: "resource_exhausted" });
    await Promise.all([next.id, started[1]?.id as string].map((id) => fx.manager.stop(id, { graceMs: 0 })));
  });

  test("the mapping survives a restart of the manager on the same data directory", async () => {
    const before = await identity(fx, "erin");
    // A restart: the first manager stops (one manager per data directory at a time), the next one opens it.
    await fx.manager.close();
    const second = await JobManager.create({ dataDir: fx.dataDir, cgroupParent: uniqueParent() });
    try {
      const job = await second.start({ program: "id", args: ["-u"] }, "erin");
      let out = "";
      for await (const chunk of second.output(job.id, { follow: true })) out += Buffer.from(chunk.data).toString();
      assert.equal(Number(out), before.uid);
      assert.equal(job.account?.uid, before.uid);
    } finally {
      await second.close();
    }
  });
});

describe("run-as mapped", { skip, timeout: 60_000 }, () => {
  let fx: Fixture;
  let mapFile: string;
  let mapDir: string;
  before(async () => {
    mapDir = await mkdtemp(join(tmpdir(), "jobexec-user-map-"));
    mapFile = join(mapDir, "users");
    await writeFile(mapFile, "# test map\nalice: postgres\nci-*: daemon\nops: root!\n");
    fx = await openFixture({ accounts: { runAs: "mapped", userMapFile: mapFile } });
  });
  after(async () => {
    await fx.close();
    await rm(mapDir, { recursive: true, force: true });
  });

  test("an identity runs as its mapped account: its uid, primary gid and supplementary groups", async () => {
    const local = await readLocalAccounts();
    const postgres = local.users.get("postgres");
    assert.ok(postgres);
    const alice = await identity(fx, "alice");
    assert.deepEqual([alice.uid, alice.gid], [postgres.uid, postgres.gid]);
    assert.deepEqual(alice.groups.split(" ").map(Number).sort(), [postgres.gid, ...(local.memberOf.get("postgres") ?? [])].sort());
    assert.deepEqual(alice.job.account, { name: "postgres", uid: postgres.uid, gid: postgres.gid });
    const home = join(fx.dataDir, "homes", "alice");
    assert.deepEqual([alice.env, alice.pwd], [`${home} postgres postgres`, home]);
    // Glob lines, and uid 0 only where the map says root!.
    assert.equal((await identity(fx, "ci-42")).uid, 1);
    assert.equal((await identity(fx, "ops")).uid, 0);
    assert.ok(fx.logs.some((e) => e.level === "warn" && e.message === `user map ${mapFile}:4: jobs of "ops" run as root, uid 0: they can do whatever root can`));
  });

  test("an identity the map does not name is permission_denied, and nothing is started", async () => {
    await assert.rejects(fx.manager.start({ program: "true" }, "bob"), {
      code: "permission_denied",
      message: '"bob" has no account to run jobs as: the user map names no account for it',
    });
    assert.equal((await fx.manager.list({ owner: "bob" })).length, 0);
  });
});

describe("run-as server", { skip, timeout: 60_000 }, () => {
  test("jobs run as the server's own user, which is logged as a warning", async () => {
    const logs: LogEvent[] = [];
    const dataDir = await mkdtemp(join(tmpdir(), "jobexec-run-as-server-")); // 0700: no account needs to reach it
    const manager = await JobManager.create({ dataDir, cgroupParent: uniqueParent(), accounts: { runAs: "server" }, log: (e) => logs.push(e) });
    try {
      const job = await manager.start({ program: "id", args: ["-u"] }, "alice");
      let out = "";
      for await (const chunk of manager.output(job.id, { follow: true })) out += Buffer.from(chunk.data).toString();
      assert.equal(out, "0\n");
      assert.deepEqual(job.account, { name: "root", uid: 0, gid: 0 });
      assert.equal(job.cwd, join(dataDir, "homes", "alice"));
      assert.ok(logs.some((e) => e.level === "warn" && e.message.startsWith("jobs run as the server's own user (run-as server, uid 0)")));
    } finally {
      await manager.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("bad account settings: one sentence at create()", { skip, timeout: 60_000 }, () => {
  let dataDir: string;
  let mapDir: string;
  before(async () => {
    dataDir = await reachableTempDir("jobexec-run-as-bad-");
    mapDir = await mkdtemp(join(tmpdir(), "jobexec-bad-map-"));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(mapDir, { recursive: true, force: true });
  });

  const create = (accounts: object, dir = dataDir) => JobManager.create({ dataDir: dir, cgroupParent: uniqueParent(), accounts });

  test("each bad setting is invalid_argument with its sentence", async () => {
    const map = async (name: string, text: string) => {
      await writeFile(join(mapDir, name), text);
      return join(mapDir, name);
    };
    const cases: [object, RegExp][] = [
      [{ runAs: "nobody" }, /^run-as "nobody" is not one of dynamic, mapped, server$/],
      [{ uidRange: { first: 5000, last: 4000 } }, /^uid range 5000-4000 is empty/],
      [{ uidRange: { first: 0, last: 4000 } }, /^uid range 0-4000 includes uid 0 \(root\)$/],
      [{ runAs: "server", uidRange: { first: 1, last: 2 } }, /^a uid range only applies to run-as dynamic$/],
      [{ runAs: "mapped" }, /^run-as mapped needs a user map file$/],
      [{ runAs: "dynamic", userMapFile: "/x" }, /^a user map is only read in run-as mapped$/],
      [{ runAs: "mapped", userMapFile: join(mapDir, "missing") }, /^cannot read the user map \S+missing: ENOENT/],
      [{ runAs: "mapped", userMapFile: await map("bad", "alice\n") }, /^user map \S+bad:1: "alice" is not "IDENTITY: ACCOUNT"$/],
      [{ runAs: "mapped", userMapFile: await map("unknown", "alice: no-such-account-here\n") }, /there is no local account "no-such-account-here"/],
      [{ runAs: "mapped", userMapFile: await map("root", "alice: root\n") }, /is uid 0; write "root!"/],
    ];
    for (const [accounts, message] of cases) await assert.rejects(create(accounts), { code: "invalid_argument", message }, JSON.stringify(accounts));
  });

  test("a data directory jobs' accounts cannot reach is refused in dynamic and mapped mode, naming the directory", async () => {
    const closed = await mkdtemp(join(tmpdir(), "jobexec-closed-")); // 0700
    try {
      await assert.rejects(create({}, join(closed, "data")), {
        code: "invalid_argument",
        message: `the data directory ${join(closed, "data")} is out of reach of jobs' accounts: ${closed} (mode 0700) is not searchable by other users; run chmod o+x ${closed}, choose another data directory, or run jobs as the server's user (run-as server)`,
      });
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
