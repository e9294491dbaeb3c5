// Every way out we know of, tried as alice's job against a real jobexec-server child process with real
// certificates: each attempt must fail, and nothing it aimed at may change.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createHash, randomUUID } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type Job, JobService, JobState } from "@jobexec/proto";
import { initCertificates, issueClientCertificate, readCredentials } from "./certificates/cert-files.ts";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { readOutput } from "./test-support/test-harness.ts";
import { alive, launchServer, listening, parentOf, type ServerChild } from "./test-support/test-process.ts";

const skip = process.getuid?.() !== 0 && "needs root";

/** What a job printed, and how it ended. */
interface Ran {
  stdout: string;
  stderr: string;
  job: Job;
}

/** The uids of every live process on the machine, by pid. */
function processUids(): Map<number, number> {
  const uids = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (/^State:\s+Z/m.test(status)) continue;
      uids.set(Number(entry), Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]));
    } catch {
      // exited while we looked
    }
  }
  return uids;
}

/** What {@link watchProcs} saw. */
interface Watched {
  /** Process sightings with uid `uid` (the watch is not vacuous when above 0). */
  seen: number;
  /** Sightings of a process with uid `uid` and NoNewPrivs 0: "PID CMDLINE". */
  withoutNoNewPrivs: string[];
  /** Processes whose command line held `secret`: "PID UID CMDLINE". */
  secretOnCommandLine: string[];
}

// Polls every /proc/PID as fast as it can (in a process of its own, so that the test's event loop stays free).
const watchScript = `
const fs = require("node:fs");
const [uid, ms] = process.argv.slice(1);
const secret = process.env.SECRET;
const end = Date.now() + Number(ms);
const out = { seen: 0, withoutNoNewPrivs: [], secretOnCommandLine: [] };
while (Date.now() < end) {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const status = fs.readFileSync("/proc/" + entry + "/status", "latin1");
      const cmdline = fs.readFileSync("/proc/" + entry + "/cmdline", "latin1");
      const owner = /^Uid:\\t(\\d+)/m.exec(status)[1];
      if (owner === uid) {
        out.seen++;
        if (/^NoNewPrivs:\\t0$/m.test(status)) out.withoutNoNewPrivs.push(entry + " " + cmdline);
      }
      if (cmdline.includes(secret)) out.secretOnCommandLine.push(entry + " " + owner + " " + cmdline);
    } catch {}
  }
}
process.stdout.write(JSON.stringify(out));
`;

/** Watches every process of the machine for `ms`: those of `uid` without no_new_privs, and any command line with `secret`. */
async function watchProcs(uid: number, secret: string, ms: number): Promise<Watched> {
  // The secret in its environment, which only root can read: on its command line, the watcher would show it to every job.
  const child = spawn(process.execPath, ["-e", watchScript, "--", String(uid), String(ms)], { stdio: ["ignore", "pipe", "inherit"], env: { SECRET: secret } });
  let text = "";
  child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()));
  await once(child, "exit");
  return JSON.parse(text) as Watched;
}

/** The pids of the live children of `parent`, with their state (R, S, Z...). */
function childrenOf(parent: number): { pid: number; state: string; command: string }[] {
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === parent) found.push({ pid: Number(entry), state: state ?? "", command: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")) });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("escapes: alice's job against the server, bob's job and the host", { skip, timeout: 300_000 }, () => {
  let dir: string;
  let config: string;
  let data: string;
  let leak: string;
  let server: ServerChild;
  let alice: Client<typeof JobService>;
  let bob: Client<typeof JobService>;
  let bobJob: Job;
  /** Where the server found cgroup v2 (its start-up log line), if anywhere. */
  let mount: string | undefined;
  const cgroupParent = testCgroupParent();

  async function clientOf(url: string, name: string): Promise<Client<typeof JobService>> {
    const creds = name === "admin" ? await readCredentials(config, "client") : await readCredentials(join(config, "clients"), name);
    const ca = readFileSync(join(config, "ca.pem"));
    return createClient(JobService, createGrpcTransport({ baseUrl: url, nodeOptions: { ca, ...creds } }));
  }

  async function startServer(): Promise<void> {
    server = launchServer(["--listen", "127.0.0.1:0", "--data-dir", data, "--cgroup-parent", cgroupParent, "--grace", "1s"], { JOBEXEC_CONFIG_DIR: config }, { leak });
    const { url } = await listening(server);
    mount = (server.lines.find((l) => l.msg === "cgroups")?.root as string | null) ?? undefined;
    [alice, bob] = await Promise.all([clientOf(url, "alice"), clientOf(url, "bob")]);
  }

  /** Runs `script` with sh as alice's job, to its end. */
  async function asAlice(script: string): Promise<Ran> {
    const { job } = await alice.startJob({ program: "sh", args: ["-c", script] });
    assert.ok(job);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.ok(out.job);
    return { stdout: out.stdout.toString(), stderr: out.stderr.toString(), job: out.job };
  }

  /** Runs each command as alice's job and asserts that it failed with `why` on stderr and printed nothing. */
  async function refused(why: RegExp, commands: string[]): Promise<void> {
    for (const command of commands) {
      const ran = await asAlice(command);
      assert.notEqual(ran.job.exitCode, 0, `${command} succeeded: ${ran.stdout}`);
      assert.equal(ran.stdout, "", command);
      assert.match(ran.stderr, why, command);
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-escapes-"));
    await chmod(dir, 0o711);
    config = join(dir, "config");
    data = join(dir, "data");
    leak = join(dir, "leaked-descriptor");
    await writeFile(leak, "");
    await initCertificates(config, { user: "admin" });
    await issueClientCertificate(config, "alice");
    await issueClientCertificate(config, "bob");
    await startServer();
    // Bob's job: a secret in its output and in its environment, running until the end.
    const started = await bob.startJob({ program: "sh", args: ["-c", "echo bob-secret; exec sleep 1000"], env: { SECRET: "bob-environ-secret" } });
    assert.ok(started.job);
    bobJob = started.job;
    for (let out = ""; !out.includes("bob-secret"); ) out = (await readOutput(bob.streamOutput({ id: bobJob.id }))).stdout.toString();
  });

  after(async () => {
    if (server.proc.exitCode === null && server.proc.signalCode === null) {
      server.proc.kill("SIGTERM");
      await server.exit;
    }
    await rm(dir, { recursive: true, force: true });
  });

  test("alice's jobs share one dynamic uid, bob's is another; neither is root", async () => {
    const [first, second] = [await asAlice("id -u; id -g; id -G"), await asAlice("id -u")];
    const [uid, gid, groups] = first.stdout.trim().split("\n").map(Number);
    assert.ok(uid !== undefined && uid >= 61184 && uid <= 65519, first.stdout);
    assert.deepEqual([gid, groups, Number(second.stdout)], [uid, uid, uid]);
    assert.deepEqual([first.job.account, first.job.uid, first.job.gid], ["alice", uid, uid]);
    assert.equal(bobJob.account, "bob");
    assert.ok(bobJob.uid >= 61184 && bobJob.uid !== uid, String(bobJob.uid));
    assert.equal(Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${bobJob.pid}/status`, "utf8"))?.[1]), bobJob.uid);
  });

  test("the CA key, the server key and the config directory cannot be read", async () => {
    const before = ["ca.key", "server.key", "client.key"].map((name) => sha256(join(config, name)));
    await refused(/Permission denied/, [
      `cat ${join(config, "ca.key")}`,
      `cat ${join(config, "server.key")}`,
      `cat ${join(config, "client.key")}`,
      `cat ${join(config, "clients", "bob.key")}`,
      `ls ${config}`,
      `cp ${join(config, "ca.key")} "$HOME/"`,
    ]);
    assert.deepEqual(["ca.key", "server.key", "client.key"].map((name) => sha256(join(config, name))), before);
  });

  test("bob's output files, the data directory and bob's home cannot be read or written", async () => {
    const bobDir = join(data, "jobs", bobJob.id);
    const listing = (): string[] => readdirSync(data).sort();
    const before = listing();
    await refused(/Permission denied/, [
      `cat ${join(bobDir, "stdout")}`,
      `echo forged >> ${join(bobDir, "stdout")}`,
      `: > ${join(bobDir, "stderr")}`,
      `ls ${join(data, "jobs")}`,
      `ls ${data}`,
      `cat ${join(data, "accounts.json")}`,
      `touch ${join(data, "planted")}`,
      `mkdir ${join(data, "jobs", "planted")}`,
      `ls ${join(data, "homes")}`,
      `ls ${join(data, "homes", "bob")}`,
      `touch ${join(data, "homes", "bob", "planted")}`,
      // Even alice's own output files: the job writes them only through the descriptors it was given.
      "cat /proc/self/fd/1",
    ]);
    assert.deepEqual(listing(), before);
    const out = await readOutput(bob.streamOutput({ id: bobJob.id }));
    assert.deepEqual([out.stdout.toString(), out.stderr.toString()], ["bob-secret\n", ""]);
  });

  test("the server and bob's job cannot be signalled; kill -9 -1 reaches only alice's own processes", async () => {
    const serverPid = server.proc.pid as number;
    await refused(/Operation not permitted/, [`kill -TERM ${serverPid}`, `kill -KILL ${bobJob.pid}`, `kill -STOP ${bobJob.pid}`, `kill -0 ${serverPid}`]);
    // Guarded in the job itself: were the drop ever broken, kill(-1) as root would hit every process of the host.
    const all = await asAlice('[ "$(id -u)" -ge 61184 ] || exit 99; kill -KILL -1; echo survived');
    assert.equal(all.stdout, "survived\n", "kill(-1) spares the caller");
    assert.ok(alive(serverPid) && alive(bobJob.pid));
    assert.equal((await bob.getJob({ id: bobJob.id })).job?.state, JobState.RUNNING);
  });

  test("bob's and the server's /proc/PID/environ, fd/, maps and root cannot be read (alice's own can)", async () => {
    const serverPid = server.proc.pid as number;
    await refused(/Permission denied/, [
      `cat /proc/${bobJob.pid}/environ`,
      `cat /proc/${serverPid}/environ`,
      `ls /proc/${bobJob.pid}/fd`,
      `ls /proc/${serverPid}/fd`,
      `cat /proc/${bobJob.pid}/fd/1`,
      `cat /proc/${bobJob.pid}/maps`,
      `ls /proc/${serverPid}/root/`,
    ]);
    const own = await asAlice("tr '\\0' '\\n' < /proc/self/environ");
    assert.match(own.stdout, /^JOBEXEC_JOB_ID=/m, "the check is not vacuous: a job reads its own");
  });

  test("no descriptor but 0, 1 and 2 reaches the job, though the server holds an inherited one (251)", async () => {
    assert.equal(readlinkSync(`/proc/${String(server.proc.pid)}/fd/251`), leak, "the server did inherit it");
    const ran = await asAlice("ls /proc/$$/fd; :");
    assert.deepEqual([ran.stdout, ran.stderr], ["0\n1\n2\n", ""]);
  });

  test("a setuid-root binary gives the job no privilege: its effective uid stays alice's", async () => {
    const suidDir = join(dir, "suid");
    await mkdir(suidDir, { mode: 0o755 });
    const id = join(suidDir, "id");
    copyFileSync("/usr/bin/id", id);
    chmodSync(id, 0o4755);
    const uid = (await asAlice("id -u")).job.uid;
    // The control: the same binary run by that uid without no_new_privs does become root.
    const control = execFileSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", id, "-u"], { encoding: "utf8" });
    assert.equal(control, "0\n");
    const ran = await asAlice(`${id} -u; ${id} -ru; grep NoNewPrivs /proc/self/status`);
    assert.equal(ran.stdout, `${uid}\n${uid}\nNoNewPrivs:\t1\n`);
  });

  test("cgroups: no write to its own limits, to cgroup.procs of the root, the parent or a sibling, or a sibling's cgroup.kill; after StopJob nothing of the job is left", async (t) => {
    if (mount === undefined) return t.skip("no cgroup v2 on this host");
    const root = mount;
    const bobCgroup = bobJob.cgroup;
    const { job } = await alice.startJob({
      program: "sh",
      args: [
        "-c",
        [
          // Children that try to outlive the job: in the background, in a new session.
          "sleep 1001 & setsid sleep 1001 &",
          'try() { if (eval "$2") 2>/tmp/err.$$; then echo "$1: DONE"; else echo "$1: $(tr -d "\\n" < /tmp/err.$$)"; fi; }',
          'own=$(sed -n "s/^0:://p" /proc/self/cgroup)',
          `try root-procs 'echo $$ > ${root}/cgroup.procs'`,
          `try parent-procs 'echo $$ > ${root}$(dirname $own)/cgroup.procs'`,
          `try sibling-procs 'echo $$ > ${String(bobCgroup)}/cgroup.procs'`,
          `try sibling-kill 'echo 1 > ${String(bobCgroup)}/cgroup.kill'`,
          `try own-kill-parent 'echo 1 > ${root}$(dirname $own)/cgroup.kill'`,
          `try own-cpu-max 'echo max > ${root}$own/cpu.max'`,
          `try own-memory-max 'echo max > ${root}$own/memory.max'`,
          `try own-subtree 'echo +pids > ${root}$own/cgroup.subtree_control'`,
          `try own-sub-cgroup 'mkdir ${root}$own/escape'`,
          "rm -f /tmp/err.$$",
          "echo attempts-done",
          "exec sleep 1000",
        ].join("\n"),
      ],
    });
    assert.ok(job?.cgroup);
    let text = "";
    const stream = alice.streamOutput({ id: job.id, follow: true })[Symbol.asyncIterator]();
    while (!text.includes("attempts-done")) {
      const next = await stream.next();
      assert.ok(!next.done, text);
      if (next.value.event.case === "chunk") text += Buffer.from(next.value.event.value.data).toString();
    }
    await stream.return?.();
    const results = Object.fromEntries(text.trim().split("\n").filter((l) => l.includes(": ")).map((l) => l.split(/: (.*)/s).slice(0, 2)));
    for (const name of ["root-procs", "parent-procs", "sibling-procs", "sibling-kill", "own-kill-parent", "own-cpu-max", "own-memory-max", "own-subtree", "own-sub-cgroup"]) {
      assert.match(results[name] ?? "missing", /Permission denied/, `${name}: ${String(results[name])}`);
    }
    // Every process of the job is still in its own cgroup, bob's job is untouched.
    const procs = readFileSync(join(job.cgroup, "cgroup.procs"), "utf8").trim().split("\n").map(Number);
    assert.ok(procs.length >= 3, `the job and its two sleepers: ${procs.join(" ")}`);
    const rootProcs = readFileSync(join(root, "cgroup.procs"), "utf8").split("\n").map(Number);
    for (const pid of procs) assert.equal(rootProcs.includes(pid), false);
    assert.equal(existsSync(join(job.cgroup, "escape")), false);
    assert.ok(alive(bobJob.pid));
    // Bob's program and its monitor (its parent, the process the server spawned), nothing else.
    const bobProcs = readFileSync(join(String(bobCgroup), "cgroup.procs"), "utf8").trim().split("\n").map(Number).sort();
    assert.deepEqual(bobProcs, [bobJob.pid, parentOf(bobJob.pid)].sort());
    const stopped = await alice.stopJob({ id: job.id, gracePeriod: { seconds: 1n, nanos: 0 } });
    assert.equal(stopped.job?.state, JobState.STOPPED);
    const left = [...processUids()].filter(([, uid]) => uid === job.uid).map(([pid]) => pid);
    assert.deepEqual(left, [], "no process of alice's uid survives anywhere");
    assert.equal(existsSync(job.cgroup), false);
  });

  test("no process of a start ever runs as alice's uid without no_new_privs, cold or from a standby (every process of the machine watched)", async () => {
    const { uid } = (await asAlice("id -u")).job;
    // Six at once: two come from the standbys, four start cold.
    const watching = watchProcs(uid, "no-secret-here", 4000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = await Promise.all(Array.from({ length: 6 }, () => alice.startJob({ program: "sh", args: ["-c", "sleep 0.5"] })));
    for (const { job } of started) await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    const watched = await watching;
    assert.ok(watched.seen > 0, "the watch saw alice's processes");
    assert.deepEqual(watched.withoutNoNewPrivs, []);
  });

  test("bob's job's environment is on no command line, while alice reads every command line and environ during his cold starts", async () => {
    const id = randomUUID();
    const token = `bob-token-${id}`;
    const watching = watchProcs(-1, token, 4000);
    const scan = alice.startJob({
      program: "sh",
      // The pattern is put together in the shell and given to grep in a file, so that no command line of alice's holds it.
      args: ["-c", `printf '%s\\n' "bob-""token-${id}" > "$HOME/pattern.$$"; end=$(($(date +%s) + 3)); while [ "$(date +%s)" -lt "$end" ]; do cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -F -f "$HOME/pattern.$$"; done; rm "$HOME/pattern.$$"; echo scanned`],
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = await Promise.all(Array.from({ length: 6 }, () => bob.startJob({ program: "sh", args: ["-c", "printenv SECRET_TOKEN"], env: { SECRET_TOKEN: token } })));
    for (const { job } of started) assert.equal((await readOutput(bob.streamOutput({ id: job?.id ?? "", follow: true }))).stdout.toString(), `${token}\n`);
    const { job } = await scan;
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.equal(out.stdout.toString(), "scanned\n", "alice never read bob's token");
    assert.deepEqual((await watching).secretOnCommandLine, [], "no process's command line held it");
  });

  test("a job making children of its parent (clone(CLONE_PARENT)) leaves no zombie under the server", async () => {
    const serverPid = server.proc.pid as number;
    const script = "import ctypes, os\nlibc = ctypes.CDLL(None)\nfor _ in range(5):\n    pid = libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0)\n    if pid == 0:\n        os._exit(0)\n    print(pid)\n";
    const { job } = await alice.startJob({ program: "/usr/bin/python3", args: ["-c", script] });
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.equal(out.stdout.toString().trim().split("\n").filter((pid) => Number(pid) > 0).length, 5, out.stderr.toString());
    assert.deepEqual(childrenOf(serverPid).filter((c) => c.state === "Z"), [], "no zombie of the server");
    // Besides standbys and monitors, the server may hold one helper of its own: the view of POSIX message queues for
    // the removal of what an account left (`cat` in a mount namespace of its own; core's accounts/remove-ipc.ts).
    const serverMounts = readlinkSync(`/proc/${String(serverPid)}/ns/mnt`);
    const mqueueView = (c: { pid: number; command: string }): boolean => c.command === "cat" && readlinkSync(`/proc/${String(c.pid)}/ns/mnt`) !== serverMounts;
    const others = childrenOf(serverPid).filter((c) => c.command !== "cgexec-enter" && !mqueueView(c) && !readFileSync(`/proc/${c.pid}/cmdline`, "utf8").includes("standby.js"));
    assert.deepEqual(others, [], "no child of the server but standbys, jobs' monitors and its message-queue view");
  });

  test("network none: /sys is the job's network namespace's (only lo in /sys/class/net)", async () => {
    const { job } = await alice.startJob({ program: "sh", args: ["-c", "ls /sys/class/net; ls /sys/fs/cgroup >/dev/null && echo cgroupfs-kept"], isolation: { privateNetwork: true } });
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.equal(out.stdout.toString(), "lo\ncgroupfs-kept\n");
    assert.ok(readdirSync("/sys/class/net").length > 1, "the host has more than lo");
  });

  test("read-only system: a working directory in or above a system tree stays read-only (/var keeps /var/tmp read-only, /usr/local is never bound writable)", async () => {
    for (const cwd of ["/var", "/usr/local"]) {
      const { job } = await alice.startJob({
        program: "sh",
        args: ["-c", `touch /var/tmp/jobexec-escape-$$ 2>&1; awk '$5 == "${cwd}"' /proc/self/mountinfo; :`],
        workingDirectory: cwd,
        isolation: { readOnlySystem: true },
      });
      const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
      assert.match(out.stdout.toString(), /^touch: cannot touch '\/var\/tmp\/jobexec-escape-\d+': Read-only file system\n$/, cwd);
    }
  });

  test("the standbys' command lines name no job: not the next jobs' ids, not their cgroups", async () => {
    const standbys = childrenOf(server.proc.pid as number)
      .map(({ pid }) => readFileSync(`/proc/${pid}/cmdline`, "utf8"))
      .filter((cmdline) => cmdline.includes("standby.js"));
    assert.ok(standbys.length > 0);
    for (const cmdline of standbys) assert.doesNotMatch(cmdline, /[0-9a-f]{8}-[0-9a-f]{4}-|--cgroup/);
  });

  test("the uid mapping survives a server restart; the new server also passes no inherited descriptor on", async () => {
    const before = (await asAlice("id -u")).job.uid;
    server.proc.kill("SIGTERM");
    assert.equal(await server.exit, 0, server.stderr.join("\n"));
    assert.equal(alive(bobJob.pid), false, "the old server stopped bob's job");
    await startServer();
    const after = await asAlice("id -u; ls /proc/$$/fd; :");
    assert.equal(after.stdout, `${before}\n0\n1\n2\n`);
    const { job } = await bob.startJob({ program: "id", args: ["-u"] });
    assert.equal(job?.uid, bobJob.uid);
    assert.deepEqual(JSON.parse(readFileSync(join(data, "accounts.json"), "utf8")), { version: 1, uids: { bob: bobJob.uid, alice: before } });
  });
});
