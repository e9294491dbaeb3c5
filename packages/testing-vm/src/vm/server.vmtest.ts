// jobexec-server as systemd would run it: inside a delegated unit cgroup, a job started over mutual TLS,
// leftovers of a crashed run killed at start-up, and SIGTERM removing everything it made.
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { connectCall as call } from "../connect-call.ts";
import { cgroupProcs, eventually, jobProcs, processesMatching, vmTestTimeout } from "./support.ts";
import { delegateService, removeCgroupTree } from "./delegation.ts";

const SERVICE = "/sys/fs/cgroup/system.slice/jobexec.service";
// Helpers (openssl) run in a scope of their own: this process may be moved by another suite
// meanwhile (delegated.vmtest.ts), and its children must not land in that suite's cgroups.
const CLIENTS = "/sys/fs/cgroup/system.slice/jobexec-test-clients.scope";
const serverMain = fileURLToPath(new URL("./main.js", import.meta.resolve("@jobexec/server")));
const execFileAsync = promisify(execFile);

/** Runs `args` to completion in the clients' scope. */
async function run(args: string[], cwd: string): Promise<void> {
  await execFileAsync("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', CLIENTS, ...args], { cwd });
}

/** One unary call of the job service with alice's certificate. */
async function connectCall(address: string, dir: string, method: string, body: unknown): Promise<unknown> {
  const [ca, cert, key] = await Promise.all(["ca.pem", "alice.pem", "alice.key"].map((name) => readFile(join(dir, name))));
  return call(address, { ca: ca as Buffer, cert: cert as Buffer, key: key as Buffer }, `/jobexec.v1.JobService/${method}`, body);
}

/** Starts `args` with its first instruction already in `cgroup`, as systemd does. */
function spawnIn(cgroup: string, args: string[], options: { detached?: boolean } = {}): ChildProcess {
  // A detached process must not hold pipes to this one, or the test run would wait for it.
  return spawn("sh", ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, ...args], {
    stdio: options.detached ? "ignore" : ["ignore", "pipe", "pipe"],
    ...options,
  });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate for alice, made with openssl. */
async function certificates(dir: string): Promise<void> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run(["openssl", "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=vm test CA", "-days", "2"], dir);
  const leaves = { server: ["/CN=jobexec-server", "serverAuth", "subjectAltName=IP:127.0.0.1\n"], alice: ["/CN=alice", "clientAuth", ""] };
  for (const [name, [subject, usage, san]] of Object.entries(leaves)) {
    await writeFile(join(dir, `${name}.ext`), `${san}extendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
    await run(["openssl", "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", String(subject)], dir);
    const sign = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", `${name}.ext`];
    await run(["openssl", "x509", "-req", "-in", `${name}.csr`, ...sign, "-out", `${name}.pem`], dir);
  }
}

interface Setup {
  dir: string;
  server: ChildProcess;
  exited: Promise<unknown[]>;
  /** The server's log (JSON lines on stderr) so far. */
  log(): string;
  jobId: string;
}

/**
 * Leaves a "crashed run" behind, starts the server in the delegated unit and a job through it.
 * Started when this file is loaded: under TCG a Node start takes many seconds, and the other suites run
 * meanwhile.
 */
async function setUp(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "jobexec-vm-server-"));
  // The data directory inside must be reachable by jobs' dynamic accounts (the keys stay 0600).
  await chmod(dir, 0o711);
  delegateService(SERVICE);
  mkdirSync(CLIENTS);
  await certificates(dir);
  const leftover = join(SERVICE, "jobexec/leftover");
  mkdirSync(leftover, { recursive: true });
  const orphan = spawnIn(leftover, ["sleep", "8001"], { detached: true });
  orphan.unref();
  await once(orphan, "spawn");

  const server = spawnIn(SERVICE, [
    process.execPath, serverMain, "--listen", "127.0.0.1:0", "--cert", join(dir, "server.pem"), "--key", join(dir, "server.key"),
    "--client-ca", join(dir, "ca.pem"), "--data-dir", join(dir, "data"), "--grace", "1s",
  ]);
  const exited = once(server, "exit");
  let log = "";
  const listening = Promise.withResolvers<string>();
  // Read the log to the end: a closed pipe would make the server fail its next log write.
  server.stderr?.setEncoding("utf8").on("data", (text: string) => {
    log += text;
    const line = log.split("\n").find((l) => l.includes('"msg":"listening"'));
    if (line) listening.resolve((JSON.parse(line) as { address: string }).address);
  });
  void exited.then(() => listening.reject(new Error(`the server ended before listening:\n${log}`)));
  const address = await listening.promise;
  // int64 fields are strings in protobuf's JSON mapping.
  const started = (await connectCall(address, dir, "StartJob", {
    program: "sleep",
    args: ["8002"],
    limits: { memoryMaxBytes: String(64 * 1024 * 1024), pidsMax: "50" },
  })) as { job: { id: string; owner: string } };
  assert.equal(started.job.owner, "alice");
  return { dir, server, exited, log: () => log, jobId: started.job.id };
}

const setup = setUp();
setup.catch(() => undefined); // reported by the suite's before() hook

describe("jobexec-server in a delegated unit cgroup", { timeout: vmTestTimeout }, () => {
  let s: Setup;
  before(async () => (s = await setup), { timeout: 240_000 });
  after(async () => {
    const started = await setup.catch(() => undefined);
    if (started && started.server.exitCode === null && started.server.signalCode === null) {
      started.server.kill("SIGKILL");
      await started.exited;
    }
    if (started) await rm(started.dir, { recursive: true, force: true });
    await removeCgroupTree(SERVICE);
    await removeCgroupTree(CLIENTS);
  });

  test("at start-up the server killed the leftover job and moved itself into a leaf", async () => {
    assert.deepEqual(processesMatching("sleep 8001"), []);
    assert.equal(existsSync(join(SERVICE, "jobexec/leftover")), false);
    assert.deepEqual(cgroupProcs(SERVICE), [], "no internal process in the unit's cgroup");
    // A standby boots in the server's cgroup and joins its job's once Node has started (the refill after the job's take).
    const leaf = join(SERVICE, "supervisor");
    // Besides the server, its leaf may hold its own view of POSIX message queues (`cat` in a mount namespace of its
    // own, kept by the removal of what accounts left: core's accounts/remove-ipc.ts).
    const serverMounts = readlinkSync(`/proc/${String(s.server.pid)}/ns/mnt`);
    const mqueueView = (pid: number): boolean => {
      try {
        return readFileSync(`/proc/${String(pid)}/comm`, "utf8").trim() === "cat" && readlinkSync(`/proc/${String(pid)}/ns/mnt`) !== serverMounts;
      } catch {
        return false; // gone meanwhile
      }
    };
    await eventually(
      () => cgroupProcs(leaf).filter((pid) => !mqueueView(pid)).join() === String(s.server.pid),
      () => `the server alone in its leaf once its standbys booted: ${cgroupProcs(leaf).join(" ")}`,
    );
  });

  test("the job started over mTLS runs in its own cgroup under the unit, with its limits", () => {
    const jobCgroup = join(SERVICE, "jobexec", s.jobId);
    assert.equal(readFileSync(join(jobCgroup, "memory.max"), "utf8").trim(), String(64 * 1024 * 1024));
    assert.equal(readFileSync(join(jobCgroup, "pids.max"), "utf8").trim(), "50");
    const sleeper = processesMatching("sleep 8002");
    assert.equal(sleeper.length, 1);
    assert.deepEqual(jobProcs(jobCgroup), sleeper);
  });

  test("SIGTERM: the server stops its jobs, removes its sub-tree and its leaf, and exits 0", async () => {
    s.server.kill("SIGTERM");
    const [code] = await s.exited;
    assert.equal(code, 0, s.log());
    assert.deepEqual(processesMatching("sleep 8002"), []);
    assert.equal(existsSync(join(SERVICE, "jobexec")), false);
    assert.equal(existsSync(join(SERVICE, "supervisor")), false);
    assert.deepEqual(cgroupProcs(SERVICE), []);
  });
});

const RESTART_SERVICE = "/sys/fs/cgroup/system.slice/jobexec-restart.service";

/**
 * A server of the restart suite, started in `cgroup` of its delegated unit: its address once listening, its exit, its
 * log.
 */
function restartServer(cgroup: string, dir: string, args: string[]): { server: ChildProcess; address: Promise<string>; exited: Promise<unknown[]>; log: () => string } {
  const server = spawnIn(cgroup, [
    process.execPath, serverMain, "--listen", "127.0.0.1:0", "--cert", join(dir, "server.pem"), "--key", join(dir, "server.key"),
    "--client-ca", join(dir, "ca.pem"), "--data-dir", join(dir, "data"), "--grace", "1s", ...args,
  ]);
  const exited = once(server, "exit");
  let log = "";
  const listening = Promise.withResolvers<string>();
  listening.promise.catch(() => undefined);
  server.stderr?.setEncoding("utf8").on("data", (text: string) => {
    log += text;
    const line = log.split("\n").find((l) => l.includes('"msg":"listening"'));
    if (line) listening.resolve((JSON.parse(line) as { address: string }).address);
  });
  void exited.then(() => listening.reject(new Error(`the server ended before listening:\n${log}`)));
  return { server, address: listening.promise, exited, log: () => log };
}

describe("jobexec-server restarts in a delegated unit cgroup: kept and crashed-over jobs are adopted", { timeout: 300_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-vm-restart-"));
    // The data directory inside must be reachable by jobs' dynamic accounts (the keys stay 0600).
    await chmod(dir, 0o711);
    delegateService(RESTART_SERVICE);
    if (!existsSync(CLIENTS)) mkdirSync(CLIENTS);
    await certificates(dir);
  }, { timeout: 240_000 });
  after(async () => {
    await removeCgroupTree(RESTART_SERVICE);
    await rm(dir, { recursive: true, force: true });
  });

  test("--on-shutdown=keep, SIGTERM, restart, SIGKILL, restart: the job runs on under its limits, then StopJob ends it", async () => {
    const first = restartServer(RESTART_SERVICE, dir, ["--on-shutdown=keep"]);
    const address = await first.address;
    const started = (await connectCall(address, dir, "StartJob", { program: "sleep", args: ["8101"], limits: { pidsMax: "20" } })) as { job: { id: string } };
    const jobCgroup = join(RESTART_SERVICE, "jobexec", started.job.id);
    first.server.kill("SIGTERM");
    assert.equal((await first.exited)[0], 0, first.log());
    assert.match(first.log(), /left 1 running job\(s\) running for the next server to adopt/);
    const sleeper = processesMatching("sleep 8101");
    assert.equal(sleeper.length, 1, "the job outlived its server");
    assert.deepEqual(jobProcs(jobCgroup), sleeper);
    assert.equal(readFileSync(join(jobCgroup, "pids.max"), "utf8").trim(), "20");
    const leaf = join(RESTART_SERVICE, "supervisor");
    assert.deepEqual(cgroupProcs(leaf), []);
    // The unit's cgroup has controllers enabled for the jobs kept running: no process may join it any more. The next
    // server starts in the leaf, as systemd's DelegateSubgroup=supervisor starts a unit's main process.
    assert.throws(() => writeFileSync(join(RESTART_SERVICE, "cgroup.procs"), String(process.pid)));

    const second = restartServer(leaf, dir, []);
    const again = (await connectCall(await second.address, dir, "GetJob", { id: started.job.id })) as { job: { state: string; pid: number } };
    assert.equal(again.job.state, "JOB_STATE_RUNNING");
    // Its standbys boot in the server's cgroup (Node's start-up memory stays charged there) and then move into the
    // cgroups made for their jobs: once they have, the server is alone in the leaf.
    await eventually(
      () => cgroupProcs(leaf).join() === String(second.server.pid),
      () => `the new server stays in the leaf, alone once its standbys booted: ${cgroupProcs(leaf).join(" ")}`,
      120_000,
    );
    assert.deepEqual(cgroupProcs(RESTART_SERVICE), []);
    second.server.kill("SIGKILL"); // a crash
    await second.exited;
    assert.deepEqual(processesMatching("sleep 8101"), sleeper);

    const third = restartServer(leaf, dir, []);
    const stopped = (await connectCall(await third.address, dir, "StopJob", { id: started.job.id })) as { job: Record<string, unknown> };
    assert.equal(stopped.job.state, "JOB_STATE_STOPPED");
    assert.equal(stopped.job.exitStatusUnknown, true);
    assert.equal(stopped.job.exitStatusUnknownReason, "the server restarted while the job ran");
    assert.deepEqual(processesMatching("sleep 8101"), []);
    third.server.kill("SIGTERM");
    assert.equal((await third.exited)[0], 0, third.log());
    assert.equal(existsSync(join(RESTART_SERVICE, "jobexec")), false, "the jobs' parent is removed");
    assert.deepEqual(cgroupProcs(leaf), [], "the leaf it was started in is left to its service manager, empty");
  });
});
