// Integration: jobs started from standbys, against the same jobs started cold, and the standby pool's behaviour,
// on this host's real cgroup v2 hierarchy with real processes (a second manager process for the restart).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { standbyPath } from "@jobexec/cgexec";
import { jobNode } from "@jobexec/testing-slow";
import { JobError } from "../job-error.ts";
import { JobManager } from "../job-manager.ts";
import { type Fixture, followAll, isAlive, openFixture, reachableTempDir, standbysIn, standbysReady, uniqueParent } from "../test-support/fixture.ts";
import type { Job, JobSpec } from "../types.ts";

const timeout = 60_000;

/** Resolves once `check()` holds, polling; fails after `ms`. */
async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  for (const deadline = performance.now() + ms; !check(); await sleep(10)) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
  }
}


/** The manager's standbys' pids. */
/** The parent of process `pid`: a job's program is the child of its monitor, the standby (or cgexec-enter) it started from. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** This process's children that run cgexec's standby entry. */
function standbyChildren(): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return parentOf(pid) === process.pid && readFileSync(`/proc/${String(pid)}/cmdline`, "utf8").split("\0").includes(standbyPath);
      } catch {
        return false; // exited meanwhile
      }
    });
}

function standbyPids(manager: JobManager): number[] {
  return standbysIn(manager.cgroups.parent as string).map((s) => s.pid);
}

async function run(manager: JobManager, spec: JobSpec): Promise<{ job: Job; stdout: string; stderr: string }> {
  const started = await manager.start(spec, "alice");
  const out = await followAll(manager, started.id);
  return { job: await manager.get(started.id), stdout: out.stdout.toString(), stderr: out.stderr.toString() };
}

// The program a job runs: sh reads its own cgroup with builtins only (its very first action, no child process),
// then becomes Node, which reports everything else about the process it is.
// The descriptors sh lists (with builtins: a glob) are those execve passed on, plus the glob's own directory (3) and
// dash's 10; Node marks its stdio close-on-exec once running, so it could not tell.
const probeShell = [
  'while read -r l; do case $l in 0::*) echo "$l";; esac; done < /proc/$$/cgroup',
  'fds=; for f in /proc/$$/fd/*; do fds="$fds ${f##*/}"; done; echo "fds$fds"',
  'n=$0; s=$1; shift; exec "$n" -e "$s" -- "$@"',
].join("\n");
const probeNode = `
const fs = require("node:fs");
const out = (k, v) => fs.writeSync(1, k + " " + JSON.stringify(v) + "\\n");
out("cmdline", fs.readFileSync("/proc/self/cmdline", "utf8").split("\\0"));
out("environ", fs.readFileSync("/proc/self/environ", "utf8").split("\\0"));
out("cwd", process.cwd());
const status = fs.readFileSync("/proc/self/status", "utf8").split("\\n");
out("status", status.filter((l) => /^(Uid|Gid|Groups|NoNewPrivs|SigIgn|SigBlk):/.test(l)));
const stat = fs.readFileSync("/proc/self/stat", "utf8");
out("own session", Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]) === process.pid);
out("stdio", [0, 1, 2].map((fd) => fs.readlinkSync("/proc/self/fd/" + fd)));
for (let i = 0; i < 3; i++) { fs.writeSync(1, "out " + i + "\\n"); fs.writeSync(2, "err " + i + "\\n"); }
`;

describe("jobs from standbys are the jobs cold starts make", { timeout }, () => {
  let warm: Fixture;
  let cold: Fixture;
  let scratch: string;
  let marker: string;
  before(async () => {
    [warm, cold] = await Promise.all([openFixture(), openFixture({ standby: 0 })]);
    scratch = await reachableTempDir("jobexec-core-standby-", 0o755);
    // Loaded by the job's NODE_OPTIONS: it says in which process it ran.
    marker = join(scratch, "marker.cjs");
    await writeFile(marker, 'require("node:fs").writeSync(2, "marker in pid " + process.pid + "\\n");\n', { mode: 0o644 });
  });
  after(async () => {
    await Promise.all([warm.close(), cold.close()]);
    await rm(scratch, { recursive: true, force: true });
  });

  /** Runs `spec` from a standby and cold, checks which way each started, and returns both, made comparable. */
  async function both(spec: JobSpec): Promise<{ warm: string; cold: string; jobs: Job[] }> {
    await standbysReady(warm.manager);
    const before = warm.manager.standbys.warmStarts;
    const results = [await run(warm.manager, spec), await run(cold.manager, spec)];
    assert.equal(warm.manager.standbys.warmStarts, before + 1, "the warm manager started it from a standby");
    assert.equal(cold.manager.standbys.warmStarts, 0);
    const [w, c] = results.map((result, i) => {
      const fx = i === 0 ? warm : cold;
      const { job } = result;
      let text = `${result.stdout}\n--- stderr\n${result.stderr}\n--- ${job.state} ${String(job.exitCode)} ${String(job.signal)} ${String(job.failureReason)}`;
      for (const [value, name] of [
        [job.id, "ID"],
        [fx.dataDir, "DATA"],
        [fx.cgroupParent, "PARENT"],
        [String(job.pid), "PID"],
        // Each data directory claims uids of its own for its identities.
        [`\\t${String(job.account?.uid)}`, "\\tUID"],
      ] as const) {
        text = text.replaceAll(value, name);
      }
      return text;
    }) as [string, string];
    return { warm: w, cold: c, jobs: results.map((r) => r.job) };
  }

  const awkward = ["two words", "", "'single'", '"double"', "ünïcödé ✓ 🚀", "a\nb", "--", "-x", "$HOME", "back\\slash", " "];

  for (const outputMode of ["separate", "merged"] as const) {
    test(`${outputMode} output: the same cgroup from the first instruction, argv, environment, cwd, account, descriptors and output`, async () => {
      const preload = join(scratch, "no-such-preload.so");
      const spec: JobSpec = {
        program: "sh",
        args: ["-c", probeShell, jobNode, probeNode, ...awkward],
        env: { NODE_OPTIONS: `--require ${marker}`, LD_PRELOAD: preload, SPACES: " a b ", EMPTY: "", UNICODE: "ünïcödé ✓ 🚀", NEWLINE: "one\ntwo" },
        cwd: scratch,
        outputMode,
      };
      if (outputMode === "merged") {
        // Its first job warms the mode up (and starts cold).
        await run(warm.manager, { program: "true", outputMode });
        await standbysReady(warm.manager);
      }
      const { warm: w, cold: c, jobs } = await both(spec);
      assert.equal(w, c);
      for (const job of jobs) assert.deepEqual([job.state, job.exitCode], ["exited", 0], w);
      // What both saw, checked once: the cgroup line came first, the marker ran in the program only (never in
      // cgexec), LD_PRELOAD reached the two programs of the job (sh, then node) and nothing before them.
      const lines = w.split("\n");
      // (In merged mode ld.so's complaints about LD_PRELOAD come first: it runs before sh.)
      assert.equal(lines.find((l) => !l.startsWith("ERROR: ld.so")), "0::/PARENT/ID");
      assert.match(w, /^fds 0 1 (10 )?2 3$/m);
      assert.equal(w.split("marker in pid ").length - 1, 1, w);
      assert.match(w, /marker in pid PID\n/);
      assert.equal(w.split(`object '${preload}' from LD_PRELOAD`).length - 1, 2, w);
      assert.match(w, /^cwd "\/tmp\/jobexec-core-standby-\w+"$/m);
      assert.match(w, /^status \[.*"Uid:\\tUID\\tUID\\tUID\\tUID".*"NoNewPrivs:\\t1".*\]$/m);
      assert.match(w, /^own session true$/m);
      const stdoutFile = "DATA/jobs/ID/stdout";
      const stderrFile = outputMode === "merged" ? stdoutFile : "DATA/jobs/ID/stderr";
      assert.ok(lines.includes(`stdio ["/dev/null","${stdoutFile}","${stderrFile}"]`), w);
      const env = JSON.parse(lines.find((l) => l.startsWith("environ "))?.slice("environ ".length) ?? "[]") as string[];
      assert.ok(env.includes(`NODE_OPTIONS=--require ${marker}`) && env.includes("EMPTY=") && env.includes("JOBEXEC_JOB_ID=ID"), w);
      const order = outputMode === "merged" ? /out 0\nerr 0\nout 1\nerr 1\nout 2\nerr 2\n\n--- stderr\n\n/ : /out 0\nout 1\nout 2\n\n--- stderr\n(.*\n)*err 0\nerr 1\nerr 2\n/;
      assert.match(w, order);
    });
  }

  test("a failure after the spawn is recorded the same way: a missing or non-executable interpreter", async () => {
    const missing = join(scratch, "missing-interp");
    await writeFile(missing, "#!/nonexistent/interp\n", { mode: 0o755 });
    const interp = join(scratch, "interp");
    await writeFile(interp, "", { mode: 0o644 });
    const denied = join(scratch, "denied-interp");
    await writeFile(denied, `#!${interp}\n`, { mode: 0o755 });
    for (const [program, reason] of [
      [missing, `${missing}: bad interpreter /nonexistent/interp: no such file or directory`],
      [denied, `${denied}: bad interpreter ${interp}: permission denied`],
    ] as const) {
      const { warm: w, cold: c, jobs } = await both({ program });
      assert.equal(w, c);
      for (const job of jobs) {
        assert.deepEqual([job.state, job.failureReason, job.pid, job.startedAt], ["failed", reason, 0, undefined]);
        assert.equal(existsSync(join(warm.dataDir, "jobs", job.id)) || existsSync(join(cold.dataDir, "jobs", job.id)), false, "its output is removed");
      }
    }
  });

  test("a program that is not there or not executable is refused before anything starts, and the standby is given back", async () => {
    await standbysReady(warm.manager);
    const pids = standbyPids(warm.manager).sort();
    const counts = warm.manager.standbys;
    const notExecutable = join(scratch, "plain-file");
    await writeFile(notExecutable, "echo\n", { mode: 0o644 });
    for (const [program, message] of [
      ["no-such-program-anywhere", /program "no-such-program-anywhere" not found on the server's PATH/],
      [notExecutable, /is not an executable file: the job's account \(uid \d+\) may not execute it/],
    ] as const) {
      for (const manager of [warm.manager, cold.manager]) {
        await assert.rejects(manager.start({ program }, "alice"), (err: unknown) => err instanceof JobError && err.code === "invalid_argument" && message.test(err.message));
      }
    }
    assert.deepEqual(standbyPids(warm.manager).sort(), pids, "the same standbys are still waiting");
    assert.deepEqual(warm.manager.standbys, counts);
  });
});

describe("run-as server: a job from a standby keeps the server's ids and groups, without no_new_privs, as a cold one", { timeout }, () => {
  test("the same ids, groups and no_new_privs from a standby and cold", async () => {
    const [warm, cold] = await Promise.all([openFixture({ accounts: { runAs: "server" } }), openFixture({ accounts: { runAs: "server" }, standby: 0 })]);
    try {
      await standbysReady(warm.manager);
      const spec: JobSpec = { program: "sh", args: ["-c", "id; grep -E '^(NoNewPrivs|CapEff):' /proc/$$/status"] };
      const [w, c] = [await run(warm.manager, spec), await run(cold.manager, spec)];
      assert.equal(warm.manager.standbys.warmStarts, 1);
      assert.equal(w.stdout, c.stdout);
      assert.match(w.stdout, /^uid=0\(root\) .*\nCapEff:\t[0-9a-f]+\nNoNewPrivs:\t0\n$/);
    } finally {
      await Promise.all([warm.close(), cold.close()]);
    }
  });
});

describe("the standby pool", { timeout }, () => {
  let fx: Fixture;
  before(async () => {
    fx = await openFixture();
  });
  after(() => fx.close());

  test("keeps two standbys ready, each in the cgroup made for its job, with an output directory of the same id; never listed, never counted in quotas", async () => {
    await standbysReady(fx.manager);
    const standbys = standbysIn(fx.manager.cgroups.parent as string);
    assert.equal(standbys.length, 2);
    assert.deepEqual(await fx.manager.list(), []);
    for (const { pid, cgroup } of standbys) {
      const id = cgroup.slice(cgroup.lastIndexOf("/") + 1);
      assert.ok(readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`0::/${fx.cgroupParent}/${id}\n`));
      assert.deepEqual(readdirSync(join(fx.dataDir, "jobs", id)).sort(), ["stderr", "stdout"]);
    }
    // A quota of one running job: the standbys take none of it.
    const job = await fx.manager.start({ program: "sleep", args: ["30"] }, "quota-user", { quota: { maxRunning: 1 } });
    await assert.rejects(fx.manager.start({ program: "true" }, "quota-user", { quota: { maxRunning: 1 }, policy: "refuse" }), { code: "resource_exhausted" });
    await fx.manager.stop(job.id, { graceMs: 0 });
  });

  test("refills after a take: the job's monitor is the standby's process, and a new standby takes its place", async () => {
    await standbysReady(fx.manager);
    const before = standbyPids(fx.manager);
    const job = await fx.manager.start({ program: "sleep", args: ["30"] }, "alice");
    assert.ok(before.includes(parentOf(job.pid)), `job pid ${job.pid}'s parent is one of the standbys ${before.join(" ")}`);
    assert.ok(readFileSync(`/proc/${job.pid}/cgroup`, "utf8").includes(`0::/${fx.cgroupParent}/${job.id}\n`));
    await standbysReady(fx.manager);
    const afterTake = standbyPids(fx.manager);
    assert.equal(afterTake.length, 2);
    assert.ok(!afterTake.includes(parentOf(job.pid)) && afterTake.filter((pid) => !before.includes(pid)).length === 1, `${before.join(" ")} -> ${afterTake.join(" ")}`);
    await fx.manager.stop(job.id, { graceMs: 0 });
  });

  test("a burst beyond the pool starts the rest cold, every job runs", async () => {
    await standbysReady(fx.manager);
    const { warmStarts, coldStarts } = fx.manager.standbys;
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => fx.manager.start({ program: "echo", args: [`job ${i}`] }, "alice")));
    for (const [i, job] of jobs.entries()) {
      assert.equal(job.state, "running");
      assert.equal((await followAll(fx.manager, job.id)).stdout.toString(), `job ${i}\n`);
      assert.equal((await fx.manager.get(job.id)).exitCode, 0);
    }
    const counts = fx.manager.standbys;
    assert.equal(counts.warmStarts - warmStarts, 2);
    assert.equal(counts.coldStarts - coldStarts, 4);
    await standbysReady(fx.manager);
  });

  test("a standby that dies is replaced, logged, and what was made for it removed", async () => {
    await standbysReady(fx.manager);
    const [victim] = standbyPids(fx.manager);
    assert.ok(victim !== undefined);
    const jobsBefore = readdirSync(join(fx.dataDir, "jobs"));
    const cgroupsBefore = readdirSync(fx.manager.cgroups.parent as string);
    process.kill(victim, "SIGKILL");
    await until("the death is logged", () => fx.logs.some((e) => e.message === `standby pid ${victim} ended while waiting (signal SIGKILL); replacing it`));
    await standbysReady(fx.manager);
    const now = standbyPids(fx.manager);
    assert.equal(now.length, 2);
    assert.ok(!now.includes(victim));
    const event = fx.logs.find((e) => e.message.startsWith(`standby pid ${victim} `));
    assert.ok(event?.jobId !== undefined && !existsSync(join(fx.dataDir, "jobs", event.jobId)), "its output directory is gone");
    assert.ok(!existsSync(join(fx.manager.cgroups.parent as string, event.jobId)), "its cgroup is gone");
    assert.equal(readdirSync(join(fx.dataDir, "jobs")).length, jobsBefore.length);
    assert.equal(readdirSync(fx.manager.cgroups.parent as string).length, cgroupsBefore.length);
  });

  test("merged output gets standbys of its own from its first job on", async () => {
    await standbysReady(fx.manager);
    const first = await fx.manager.start({ program: "sh", args: ["-c", "echo a; echo b >&2"], outputMode: "merged" }, "alice");
    assert.equal((await followAll(fx.manager, first.id)).stdout.toString(), "a\nb\n");
    await standbysReady(fx.manager);
    assert.deepEqual([fx.manager.standbys.target, fx.manager.standbys.idle], [4, 4]);
    const { warmStarts } = fx.manager.standbys;
    const second = await fx.manager.start({ program: "sh", args: ["-c", "echo c; echo d >&2; echo e"], outputMode: "merged" }, "alice");
    assert.equal(fx.manager.standbys.warmStarts, warmStarts + 1);
    const out = await followAll(fx.manager, second.id);
    assert.deepEqual([out.stdout.toString(), out.stderr.toString()], ["c\nd\ne\n", ""]);
  });
});

describe("a standby still booting", { timeout }, () => {
  /** A manager with one standby, caught (and frozen with SIGSTOP) while it boots. */
  async function frozenWhileBooting(): Promise<{ fx: Fixture; pid: number }> {
    for (let attempt = 0; ; attempt++) {
      const fx = await openFixture({ standby: 1 });
      let found: number | undefined;
      // Found among this process's children (it joins its cgroup only once Node has started, close to its ready byte).
      await until("the standby is spawned", () => (found = standbyChildren()[0]) !== undefined, 30_000);
      process.kill(found as number, "SIGSTOP");
      if (fx.manager.standbys.idle === 0) return { fx, pid: found as number };
      // It was quicker than us: try again.
      process.kill(found as number, "SIGCONT");
      await fx.close();
      if (attempt === 5) throw new Error("could not catch a standby while it booted");
    }
  }

  test("is taken and waited for: the job starts from it once it booted", async () => {
    const { fx, pid } = await frozenWhileBooting();
    try {
      const starting = fx.manager.start({ program: "echo", args: ["waited"] }, "alice");
      await sleep(200);
      process.kill(pid, "SIGCONT");
      const job = await starting;
      assert.equal((await followAll(fx.manager, job.id)).stdout.toString(), "waited\n");
      assert.deepEqual([fx.manager.standbys.warmStarts, fx.manager.standbys.coldStarts], [1, 0]);
    } finally {
      await fx.close();
    }
  });

  test("that dies before it booted is replaced, and the job starts cold under the same id", async () => {
    const { fx, pid } = await frozenWhileBooting();
    try {
      const starting = fx.manager.start({ program: "echo", args: ["cold after all"] }, "alice");
      await sleep(200);
      process.kill(pid, "SIGKILL");
      const job = await starting;
      assert.notEqual(job.pid, pid);
      assert.equal((await followAll(fx.manager, job.id)).stdout.toString(), "cold after all\n");
      assert.deepEqual([fx.manager.standbys.warmStarts, fx.manager.standbys.coldStarts], [0, 1]);
      assert.ok(fx.logs.some((e) => e.message === `standby pid ${pid} ended before it was ready; the job starts cold` && e.jobId === job.id));
      await standbysReady(fx.manager);
    } finally {
      await fx.close();
    }
  });
});

describe("standbys at shutdown and restart", { timeout }, () => {
  test("close() kills every standby and removes their cgroups and files; the jobs' records and output stay", async () => {
    const fx = await openFixture();
    await standbysReady(fx.manager);
    const job = await fx.manager.start({ program: "true", outputMode: "merged" }, "alice");
    await standbysReady(fx.manager);
    const pids = standbyPids(fx.manager);
    assert.equal(pids.length, 4, "2 per output mode");
    const parent = fx.manager.cgroups.parent as string;
    await fx.manager.close();
    for (const pid of pids) assert.equal(isAlive(pid), false, `standby ${pid} is gone`);
    assert.equal(existsSync(parent), false, "no cgroup is left, made ahead or a job's");
    assert.deepEqual(readdirSync(join(fx.dataDir, "jobs")), [job.id], "only the job's output, none of a standby");
    await fx.close();
  });

  test('onClose "keep": the standbys go, the running job stays and is adopted; the next manager\'s standbys are new ids, its jobs later seqs', async () => {
    const dataDir = await reachableTempDir("jobexec-core-keep-");
    const cgroupParent = uniqueParent();
    const first = await JobManager.create({ dataDir, cgroupParent, onClose: "keep" });
    let next: JobManager | undefined;
    try {
      await standbysReady(first);
      const running = await first.start({ program: "sleep", args: ["30"] }, "alice");
      assert.equal(first.standbys.warmStarts, 1, "it came from a standby");
      await standbysReady(first);
      const parent = first.cgroups.parent as string;
      const pids = standbyPids(first);
      const standbyIds = readdirSync(join(dataDir, "jobs")).filter((id) => id !== running.id);
      assert.equal(standbyIds.length, 2);
      await first.close();
      for (const pid of pids) assert.equal(isAlive(pid), false, `standby ${pid} is gone`);
      assert.deepEqual(readdirSync(join(dataDir, "jobs")), [running.id], "the standbys' output directories are removed");
      assert.deepEqual(
        readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name),
        [running.id],
        "the standbys' cgroups are removed; the job's stays, with its process",
      );
      assert.ok(isAlive(running.pid));

      const logs: string[] = [];
      next = await JobManager.create({ dataDir, cgroupParent, log: (e) => logs.push(e.message) });
      assert.deepEqual([(await next.get(running.id)).state, (await next.get(running.id)).pid], ["running", running.pid], "adopted, not taken for a leftover");
      assert.ok(!logs.some((l) => l.includes(running.id) && l.startsWith("removed")), logs.join("\n"));
      await standbysReady(next);
      const nextIds = standbysIn(parent).map((s) => basename(s.cgroup));
      assert.equal(nextIds.length, 2);
      for (const id of nextIds) assert.ok(id !== running.id && !standbyIds.includes(id), `standby ${id} has a new id`);
      const later = await next.start({ program: "true" }, "alice");
      assert.equal(next.standbys.warmStarts, 1);
      assert.ok(nextIds.includes(later.id), "it took a standby's id");
      assert.ok(later.seq > running.seq, `seq ${String(later.seq)} comes after the stored ${String(running.seq)}`);
      assert.deepEqual(
        (await next.list()).map((j) => j.id),
        [later.id, running.id],
        "the jobs, and no standby",
      );
      await next.stop(running.id, { graceMs: 0 });
    } finally {
      await next?.close();
      await first.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("after a crash the standbys exit on their own, and the next manager removes what was made for them", async () => {
    const dataDir = await reachableTempDir("jobexec-core-restart-");
    const cgroupParent = uniqueParent();
    const child = spawn(process.execPath, [new URL("../test-support/manager-child.ts", import.meta.url).pathname, dataDir, cgroupParent], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let next: JobManager | undefined;
    try {
      const [line] = (await once((child.stdout as Readable).setEncoding("utf8"), "data")) as [string];
      const { parent, standbys } = JSON.parse(line) as { parent: string; standbys: number[] };
      assert.equal(standbys.length, 2);
      const made = readdirSync(join(dataDir, "jobs"));
      assert.equal(made.length, 2, "each standby's output directory");
      for (const id of made) assert.ok(existsSync(join(parent, id)), "and its cgroup, made ahead");
      child.kill("SIGKILL");
      await once(child, "exit");
      // Their request descriptor's other end is gone: each reads end-of-file and exits without running anything.
      await until("the orphaned standbys exited", () => standbys.every((pid) => !isAlive(pid)));
      const logs: string[] = [];
      next = await JobManager.create({ dataDir, cgroupParent, log: (e) => logs.push(e.message) });
      for (const id of made) {
        assert.ok(logs.includes(`removed output directory ${id}, which no job record owns`), logs.join("\n"));
        assert.ok(logs.includes(`removed leftover job cgroup ${join(parent, id)}`), logs.join("\n"));
      }
      await standbysReady(next);
      assert.ok(readdirSync(join(dataDir, "jobs")).every((id) => !made.includes(id)));
      await next.close();
      assert.equal(existsSync(parent), false);
      assert.deepEqual(readdirSync(join(dataDir, "jobs")), []);
    } finally {
      child.kill("SIGKILL");
      await next?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("standby 0 keeps none (every start is cold); a bad size is refused", async () => {
    const fx = await openFixture({ standby: 0 });
    try {
      assert.deepEqual(readdirSync(fx.manager.cgroups.parent as string, { withFileTypes: true }).filter((e) => e.isDirectory()), []);
      const job = await fx.manager.start({ program: "echo", args: ["cold"] }, "alice");
      assert.equal((await followAll(fx.manager, job.id)).stdout.toString(), "cold\n");
      assert.deepEqual(fx.manager.standbys, { size: 0, target: 0, idle: 0, starting: 0, warmStarts: 0, coldStarts: 1 });
    } finally {
      await fx.close();
    }
    for (const standby of [-1, 1.5, 33, Number.NaN]) {
      // Refused before anything is made, so a data directory that does not exist is never created.
      await assert.rejects(JobManager.create({ dataDir: "/nonexistent/jobexec-never-made", standby }), { code: "invalid_argument", message: `standby must be a whole number from 0 to 32, not ${String(standby)}` });
    }
  });
});
