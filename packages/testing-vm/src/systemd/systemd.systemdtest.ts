// The Debian package on a real systemd host (run inside the systemd tier's VM by src/systemd/main.ts): installed with
// apt, then the service driven through its real unit with real systemctl. The tests run in order, each on the state
// the previous one left: install, limits, restarts, stop, keep (restart, crash, upgrade), kill, remove, purge.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { connectCall } from "../connect-call.ts";
import { VM_HOSTNAME } from "./debian-rootfs.ts";

const runDir = process.env.JOBEXEC_VM_RUN_DIR ?? "/vm-run";
const deb = `./${process.env.JOBEXEC_DEB ?? ""}`;
const ADDRESS = "127.0.0.1:50051";
const UNIT = "jobexec-server";
/** The longest a command may take: apt unpacking 150 MB under TCG on a busy host. */
const COMMAND_TIMEOUT_MS = 300_000;
/** Each step under TCG: apt unpacking 150 MB, a Node server's start. */
const timeout = 600_000;
const inVm = process.env.JOBEXEC_SYSTEMD_VM === "1";

/** Runs a command in the run directory (where the .deb files are) and returns its output; throws with it on failure. */
function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {
      cwd: runDir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      // A command that hangs (a unit's start waiting on another job) would hold the test run, whose timeouts cannot
      // fire during a synchronous call.
      timeout: COMMAND_TIMEOUT_MS,
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stdout ?? ""}${stderr ?? ""}\n${serviceLog()}`, { cause: err });
  }
}

/** `apt install ./FILE.deb`, as an administrator would (apt warns that its command line is not for scripts). */
function aptInstall(file: string): string {
  return sh("apt", ["install", "-y", file]);
}

function credentials(): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: readFileSync("/etc/jobexec/ca.pem"), cert: readFileSync("/etc/jobexec/client.pem"), key: readFileSync("/etc/jobexec/client.key") };
}

/** The gRPC health service's answer, retried while the server starts (Type=simple: active before it listens). */
async function health(timeoutMs = 300_000): Promise<string> {
  let last: unknown;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    try {
      const answer = (await connectCall(ADDRESS, credentials(), "/grpc.health.v1.Health/Check", {})) as { status?: string };
      return answer.status ?? "";
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`no health answer from ${ADDRESS}: ${String(last)}\n${serviceLog()}`);
}

/** The unit's state and its last log lines, to say why a step failed. */
function serviceLog(): string {
  const out = (args: string[]): string => {
    try {
      return execFileSync(args[0] as string, args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? err);
    }
  };
  return [["systemctl", "status", "--no-pager", UNIT], ["systemctl", "list-jobs", "--no-pager"], ["journalctl", "--no-pager", "-n", "40", "-u", UNIT]].map(out).join("\n");
}

/** The job fields the tests read (Connect's JSON names; int64 as strings, enums by name, defaults omitted). */
interface JobJson {
  id: string;
  state: string;
  pid?: number;
  oomKilled?: boolean;
  exitStatusUnknown?: boolean;
  stopReason?: string;
  cgroup?: string;
  output?: { stdoutBytes?: string };
}

async function call(method: string, body: unknown): Promise<unknown> {
  return connectCall(ADDRESS, credentials(), `/jobexec.v1.JobService/${method}`, body);
}

async function startJob(script: string, limits: Record<string, unknown> = {}): Promise<JobJson> {
  return ((await call("StartJob", { program: "sh", args: ["-c", script], limits })) as { job: JobJson }).job;
}

async function getJob(id: string): Promise<JobJson> {
  return ((await call("GetJob", { id })) as { job: JobJson }).job;
}

/** The ids of every job record the server holds. */
async function recordIds(): Promise<string[]> {
  return ((await call("ListJobs", { allOwners: true, pageSize: 1000 })) as { jobs?: JobJson[] }).jobs?.map((j) => j.id).sort() ?? [];
}

/** Polls `check` until it returns a value, for up to `timeoutMs` (under TCG a step takes seconds). */
async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${serviceLog()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Pids of the processes of jobs: every job runs as a dynamic account (uid 61184 and up); the server is root. */
function jobProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1]);
      if (uid >= 61184) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
}

function mainPid(): number {
  return Number(sh("systemctl", ["show", "-P", "MainPID", UNIT]).trim());
}

/** sha256 of each file of /etc/jobexec: the certificates and keys postinst made. */
function configHashes(): Record<string, string> {
  return Object.fromEntries(readdirSync("/etc/jobexec").filter((n) => /\.(pem|key)$/.test(n)).map((n) => [n, createHash("sha256").update(readFileSync(`/etc/jobexec/${n}`)).digest("hex")]));
}

const DROP_IN_DIR = `/etc/systemd/system/${UNIT}.service.d`;
/** A counter that prints a line a second: how a job is seen to keep running across a restart. */
const COUNTER = "i=0; while :; do i=$((i+1)); echo $i; sleep 1; done";

/** The one running job the previous test left (under keep, it runs on from test to test). */
async function runningJob(): Promise<JobJson & { pid: number }> {
  const running = (await call("ListJobs", { allOwners: true, states: ["JOB_STATE_RUNNING"] })) as { jobs?: JobJson[] };
  assert.equal(running.jobs?.length, 1, `one running job: ${JSON.stringify(running.jobs)}`);
  const job = running.jobs?.[0];
  assert.ok(job?.pid, "with its pid");
  return { ...job, pid: job.pid };
}

/** The job `id` runs under the new server with the same pid, and its output keeps growing. */
async function assertAdopted(id: string, pid: number): Promise<void> {
  const adopted = await getJob(id);
  assert.equal(adopted.state, "JOB_STATE_RUNNING");
  assert.equal(adopted.pid, pid);
  const bytes = Number(adopted.output?.stdoutBytes ?? 0);
  await until(async () => (Number((await getJob(id)).output?.stdoutBytes ?? 0) > bytes ? true : undefined), "output written after the adoption");
}


describe("jobexec .deb under systemd", { skip: inVm ? false : "runs in the systemd tier's VM only (node src/systemd/main.ts)", timeout }, () => {
  test("apt install: certificates for this host, the service enabled, started and healthy", { timeout }, async (t) => {
    // The keep tests below need DelegateSubgroup= (systemd >= 254): say which systemd this is.
    t.diagnostic(sh("systemctl", ["--version"]).split("\n")[0] ?? "");
    aptInstall(deb);
    assert.equal(sh("systemctl", ["is-enabled", UNIT]).trim(), "enabled");
    const server = new X509Certificate(readFileSync("/etc/jobexec/server.pem"));
    assert.match(server.subjectAltName ?? "", new RegExp(`DNS:${VM_HOSTNAME}`), "the server certificate names the host");
    assert.equal(await health(), "SERVING");
    assert.equal(sh("systemctl", ["is-active", UNIT]).trim(), "active");
    assert.ok(existsSync("/var/lib/jobexec"), "the state directory");
  });

  test("Delegate=yes: a job over its memory limit is OOM-killed, a --cpu 0.2 job is throttled", { timeout }, async () => {
    const controllers = readFileSync(`/sys/fs/cgroup/system.slice/${UNIT}.service/cgroup.controllers`, "utf8");
    for (const c of ["cpu", "memory", "pids"]) assert.match(controllers, new RegExp(`\\b${c}\\b`), `the unit's cgroup has ${c}`);
    // tail keeps a whole line in memory, and /dev/zero has no newline.
    const hog = await startJob("head -c 512m /dev/zero | tail", { memoryMaxBytes: String(32 * 1024 * 1024) });
    const ended = await until(async () => {
      const job = await getJob(hog.id);
      return job.state === "JOB_STATE_RUNNING" ? undefined : job;
    }, "the memory hog to end");
    assert.equal(ended.oomKilled, true, `OOM-killed: ${JSON.stringify(ended)}`);

    const spinner = await startJob("while :; do :; done", { cpu: 0.2 });
    const cgroup = (await getJob(spinner.id)).cgroup ?? "";
    assert.equal(readFileSync(join(cgroup, "cpu.max"), "utf8").trim(), "20000 100000");
    await until(async () => (/^nr_throttled (\d+)$/m.exec(readFileSync(join(cgroup, "cpu.stat"), "utf8"))?.[1] ?? "0") !== "0" || undefined, "the spinner to be throttled");
    await call("StopJob", { id: spinner.id });
  });

  test("systemctl restart with --on-shutdown stop: running jobs recorded as stopped by the shutdown, every record and output kept", { timeout }, async () => {
    const job = await startJob("echo started; exec sleep 1000");
    await until(async () => ((await getJob(job.id)).output?.stdoutBytes ? true : undefined), "the job's first line");
    const before = await recordIds();
    sh("systemctl", ["restart", UNIT]);
    assert.equal(await health(), "SERVING");
    const after = await getJob(job.id);
    assert.equal(after.state, "JOB_STATE_STOPPED");
    assert.equal(after.stopReason, "STOP_REASON_SERVER_SHUTDOWN");
    assert.equal(after.output?.stdoutBytes, "8", "its output (\"started\\n\") kept");
    assert.deepEqual(await recordIds(), before, "every record kept");
    assert.deepEqual(jobProcesses(), [], "no job process left");
  });

  test("systemctl stop leaves no process of any job", { timeout }, async () => {
    const job = await startJob(COUNTER);
    await until(async () => ((await getJob(job.id)).output?.stdoutBytes ? true : undefined), "the job's first line");
    sh("systemctl", ["stop", UNIT]);
    assert.deepEqual(jobProcesses(), [], "no job process after the stop");
    sh("systemctl", ["start", UNIT]);
    assert.equal(await health(), "SERVING");
    assert.equal((await getJob(job.id)).stopReason, "STOP_REASON_SERVER_SHUTDOWN");
  });

  test("--on-shutdown keep: a running job survives systemctl restart and is adopted", { timeout }, async () => {
    mkdirSync(DROP_IN_DIR, { recursive: true });
    writeFileSync(join(DROP_IN_DIR, "keep.conf"), "[Service]\nEnvironment=JOBEXEC_ON_SHUTDOWN=keep\nKillMode=process\n");
    sh("systemctl", ["daemon-reload"]);
    sh("systemctl", ["restart", UNIT]);
    assert.equal(await health(), "SERVING");
    const job = await startJob(COUNTER);
    const pid = await until(async () => (await getJob(job.id)).pid || undefined, "the job's pid");
    const server = mainPid();
    sh("systemctl", ["restart", UNIT]);
    assert.equal(await health(), "SERVING");
    assert.notEqual(mainPid(), server, "a new server");
    // DelegateSubgroup=supervisor: the server starts in a leaf beside the kept jobs' cgroups.
    assert.match(readFileSync(`/proc/${String(mainPid())}/cgroup`, "utf8"), new RegExp(`^0::/system\\.slice/${UNIT}\\.service/supervisor$`, "m"));
    assert.ok(alive(pid), "the job's process lived through the restart");
    await assertAdopted(job.id, pid);
  });

  test("systemctl kill -s KILL --kill-whom=main (the server crashes), then start: the running job is adopted, nothing lost", { timeout }, async () => {
    const before = await recordIds();
    const job = await runningJob();
    // The server dies as in a crash; its jobs are not signalled (Restart=on-failure may restart it before the start).
    sh("systemctl", ["kill", "-s", "KILL", "--kill-whom=main", UNIT]);
    sh("systemctl", ["start", UNIT]);
    assert.equal(await health(), "SERVING");
    assert.ok(alive(job.pid), "the job lived through the kill");
    await assertAdopted(job.id, job.pid);
    assert.deepEqual(await recordIds(), before, "every record kept");
  });

  test("upgrade under keep: apt install of a higher version while a job runs: the job adopted by the new version, records, certificates and edited configuration intact", { timeout }, async () => {
    const job = await runningJob();
    const before = await recordIds();
    const hashes = configHashes();
    appendFileSync("/etc/jobexec/server.env", "# edited by the administrator\n");
    const server = mainPid();
    aptInstall(`./${process.env.JOBEXEC_DEB_UPGRADE ?? ""}`);
    assert.match(sh("dpkg-query", ["-W", "-f", "${Version}", "jobexec"]), /\+systemdtest1$/);
    assert.equal(await health(), "SERVING");
    assert.notEqual(mainPid(), server, "the new version's server");
    assert.ok(alive(job.pid), "the job lived through the upgrade");
    await assertAdopted(job.id, job.pid);
    assert.deepEqual(await recordIds(), before, "every record kept");
    assert.deepEqual(configHashes(), hashes, "certificates untouched");
    assert.match(readFileSync("/etc/jobexec/server.env", "utf8"), /edited by the administrator/, "the conffile as edited");
  });

  test("systemctl kill -s KILL (every process of the unit, the jobs too), then start: the killed job recorded as ended, exit status unknown, nothing lost", { timeout }, async () => {
    const before = await recordIds();
    const job = await runningJob();
    // Without --kill-whom, systemctl kill signals every process in the unit's cgroup, the delegated sub-tree included:
    // the administrator asked for the jobs' deaths too. The next server finds their cgroups empty.
    sh("systemctl", ["kill", "-s", "KILL", UNIT]);
    await until(async () => (jobProcesses().length === 0 ? true : undefined), `no job process after the kill (${jobProcesses().join(" ")})`, 60_000);
    sh("systemctl", ["start", UNIT]);
    assert.equal(await health(), "SERVING");
    const ended = await until(async () => {
      const record = await getJob(job.id);
      return record.state === "JOB_STATE_RUNNING" ? undefined : record;
    }, "the killed job's record to end");
    assert.equal(ended.state, "JOB_STATE_EXITED");
    assert.equal(ended.exitStatusUnknown, true, `exit status unknown, never guessed: ${JSON.stringify(ended)}`);
    assert.ok(Number(ended.output?.stdoutBytes ?? 0) > 0, "its output kept");
    assert.deepEqual(await recordIds(), before, "every record kept");
  });

  test("apt remove stops everything and keeps the data", { timeout }, async () => {
    // The records, not the directories: a running server's standby processes have output directories of their own,
    // which its stop removes.
    const ids = await recordIds();
    assert.ok(ids.length >= 5, `the jobs of the tests above: ${ids.join(" ")}`);
    sh("apt", ["remove", "-y", "jobexec"]);
    assert.notEqual(sh("systemctl", ["show", "-P", "ActiveState", UNIT]).trim(), "active");
    await until(async () => (jobProcesses().length === 0 ? true : undefined), `no job process after the removal (${jobProcesses().join(" ")})`, 60_000);
    assert.ok(!existsSync("/usr/bin/jobexec-server"));
    assert.ok(existsSync("/etc/jobexec/ca.pem"), "certificates kept");
    for (const id of ids) assert.ok(existsSync(join("/var/lib/jobexec/jobs", id)), `the record of ${id} kept`);
  });

  test("apt purge removes configuration and data", { timeout }, async () => {
    sh("apt", ["purge", "-y", "jobexec"]);
    assert.ok(!existsSync("/etc/jobexec"));
    assert.ok(!existsSync("/var/lib/jobexec"));
    assert.ok(!existsSync(`/lib/systemd/system/${UNIT}.service`));
    assert.throws(() => sh("dpkg-query", ["-W", "jobexec"]), /no packages found matching jobexec/, "dpkg forgot the package");
  });
});
