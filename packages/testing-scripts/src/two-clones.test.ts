// The README's two commands from two fresh copies of this checkout on one machine, each in a 0700 directory
// (as mktemp -d makes it: other accounts cannot enter), with PATH=/usr/local/bin:/usr/bin:/bin. Each quick start
// runs for real: setup (install, build, publish), certificates, a server in the background, `slow 10` followed to
// its end. The address is a free loopback port instead of 50051, which may be in use on a shared machine; the
// logic is the same for any address.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { type Clone, freePort, freshClone, newUserEnv, removeClone, run } from "./clone.ts";

const root = process.getuid?.() === 0;
const minutes = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in a clone's .run/server.pid, if the file is there. */
function serverPid(clone: Clone): number | undefined {
  const file = join(clone.root, ".run", "server.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8")) : undefined;
}

async function until(check: () => boolean, ms = 20_000): Promise<boolean> {
  for (const end = Date.now() + ms; !check(); await sleep(100)) if (Date.now() > end) return false;
  return true;
}

/** The jobs a server holds, listed with a clone's CLI. */
function jobsOn(clone: Clone, server: string, configDir: string): { commandLine: string; state: string }[] {
  const env = { ...newUserEnv(), JOBEXEC_SERVER: server, JOBEXEC_CONFIG_DIR: configDir };
  return (JSON.parse(execFileSync(join(clone.root, "bin", "jobexec"), ["list", "--json"], { env }).toString()) as { jobs: { commandLine: string; state: string }[] }).jobs;
}

/** What a quick start printed that says where its server keeps things, from the start marker in its log. */
function startMarker(clone: Clone): { listen: string; dataDir: string; cgroupParent: string } {
  const markers = [...readFileSync(join(clone.root, ".run", "server.log"), "utf8").matchAll(/^--- \S+ quickstart: starting jobexec-server --listen (\S+) --data-dir (\S+) --cgroup-parent (\S+)$/gm)];
  const [, listen = "", dataDir = "", cgroupParent = ""] = markers.at(-1) ?? assert.fail("no start marker in .run/server.log");
  return { listen, dataDir, cgroupParent };
}

/** slow 10 ran to its end: odd lines on stdout (even ones on stderr), then its status. */
function assertSlowRan(result: { code: number | null; stdout: string; stderr: string }): void {
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^line 1\nline 3\nline 5\nline 7\nline 9\nexited 0\n/m, result.stdout);
  assert.match(result.stderr, /^line 2\nline 4\nline 6\nline 8\nline 10\n/m);
  assert.match(result.stdout, /State: exited \(exit code 0\)/);
  assert.match(result.stdout, /Command: slow 10\n/);
}

describe("the README's commands from two fresh clones on one machine", { timeout: 20 * minutes }, () => {
  let a: Clone;
  let b: Clone;
  const clones: Clone[] = [];
  let address: string;
  const homes = realpathSync(mkdtempSync(join(tmpdir(), "jobexec-quickstart-config-")));
  const configDir = join(homes, "ours");
  const foreignConfigDir = join(homes, "foreign");
  const cleanups: string[] = [];
  const env = (clone: Clone, config: string): Record<string, string> =>
    newUserEnv({ JOBEXEC_LISTEN: address, JOBEXEC_CONFIG_DIR: config, JOBEXEC_BIN_DIR: clone.binDir });

  before(async () => {
    clones.push((a = freshClone({ tools: true })), (b = freshClone({ tools: true })));
    address = `127.0.0.1:${await freePort()}`;
  });
  after(async () => {
    for (const clone of clones) {
      const pid = serverPid(clone);
      if (pid !== undefined && alive(pid)) process.kill(pid, "SIGTERM");
      await until(() => pid === undefined || !alive(pid));
    }
    for (const path of cleanups) rmSync(path, { recursive: true, force: true });
    for (const clone of clones) removeClone(clone);
    rmSync(homes, { recursive: true, force: true });
  });

  /** Runs a clone's quick start, noting what it published and where its server keeps data, for clean-up. */
  async function quickstart(clone: Clone, config: string): Promise<Awaited<ReturnType<typeof run>>> {
    const result = await run(clone.root, ["bash", "scripts/quickstart.sh"], env(clone, config), 8 * minutes);
    for (const match of result.stderr.matchAll(/jobs' Node and slow are published in (\S+)$|data: (\/var\/lib\/\S+)\)$/gm)) cleanups.push((match[1] ?? match[2]) as string);
    return result;
  }

  test("the first clone's quick start sets up, starts its own server with a data dir and cgroup parent of its own, and runs slow 10", async () => {
    const result = await quickstart(a, configDir);
    assertSlowRan(result);
    assert.match(result.stderr, /^quickstart: creating development certificates in /m);
    assert.match(result.stderr, /^quickstart: starting jobexec-server in the background \(log: .*\/\.run\/server\.log, data: \S+\)$/m);
    const pid = serverPid(a) ?? assert.fail("no .run/server.pid");
    assert.ok(alive(pid));
    assert.match(result.stderr, new RegExp(`^quickstart: the server keeps running \\(pid ${pid}, `, "m"));
    assert.match(result.stderr, new RegExp(`^quickstart: the server is on ${address}, not the default: to use it, export JOBEXEC_SERVER=${address}$`, "m"));
    const marker = startMarker(a);
    assert.equal(marker.listen, address);
    assert.match(marker.cgroupParent, /^jobexec-quickstart-[0-9a-f]{16}$/);
    assert.match(result.stdout, new RegExp(`Cgroup: \\S*/${marker.cgroupParent}/`));
    if (root) {
      // The clone is out of other accounts' reach: what jobs run is published, and the data dir (where jobs' homes go) is outside too.
      const published = /jobs' Node and slow are published in (\S+)$/m.exec(result.stderr)?.[1] ?? assert.fail(result.stderr);
      assert.equal(readlinkSync(join(a.binDir, "slow")), join(published, "bin", "slow"));
      assert.match(marker.dataDir, /^\/var\/lib\/jobexec-quickstart\/[0-9a-f]{16}$/);
    } else {
      assert.equal(marker.dataDir, join(a.root, ".run", "data"));
    }
    assert.deepEqual(jobsOn(a, address, configDir).map((job) => job.commandLine), ["slow 10"]);
  });

  test("the second clone's quick start uses the server that accepts our certificates, and starts none", async () => {
    const result = await quickstart(b, configDir);
    assertSlowRan(result);
    assert.match(result.stderr, new RegExp(`^quickstart: a jobexec-server already answers on ${address} and accepts our certificates: using it \\(this checkout starts none\\)$`, "m"));
    assert.equal(serverPid(b), undefined);
    assert.equal(existsSync(join(b.root, ".run", "server.log")), false);
    assert.deepEqual(jobsOn(a, address, configDir).map((job) => job.state), ["exited", "exited"]);
  });

  test("with a foreign server on the address, the second clone starts its own on a free port and says which JOBEXEC_SERVER to export", async () => {
    const firstPid = serverPid(a) ?? assert.fail("the first server is gone");
    const result = await quickstart(b, foreignConfigDir);
    assertSlowRan(result);
    assert.match(result.stderr, new RegExp(`^quickstart: ${address} is taken by something that does not accept our certificates \\(jobexec: TLS: .+\\): starting ours on a free port$`, "m"));
    const ours = /^quickstart: the server is on (127\.0\.0\.1:\d+), not the default: to use it, export JOBEXEC_SERVER=\1$/m.exec(result.stderr)?.[1] ?? assert.fail(result.stderr);
    assert.notEqual(ours, address);
    const pid = serverPid(b) ?? assert.fail("no .run/server.pid");
    assert.ok(alive(pid) && alive(firstPid) && pid !== firstPid);
    const [first, second] = [startMarker(a), startMarker(b)];
    assert.notEqual(second.dataDir, first.dataDir);
    assert.notEqual(second.cgroupParent, first.cgroupParent);
    assert.equal(readFileSync(join(b.root, ".run", "server.address"), "utf8"), `${ours}\n`);
    assert.deepEqual(jobsOn(b, ours, foreignConfigDir).map((job) => job.commandLine), ["slow 10"]);
    assert.equal(jobsOn(a, address, configDir).length, 2, "the first server and its jobs are untouched");
  });

  test("a quick start again reuses its own server; when that server exits, .run/server.pid goes and the log says so", async () => {
    const pid = serverPid(b) ?? assert.fail("no .run/server.pid");
    const result = await quickstart(b, foreignConfigDir);
    assertSlowRan(result);
    assert.match(result.stderr, new RegExp(`^quickstart: using this checkout's jobexec-server from an earlier run \\(pid ${pid}\\) on 127\\.0\\.0\\.1:\\d+$`, "m"));
    process.kill(pid, "SIGTERM");
    assert.ok(await until(() => serverPid(b) === undefined), ".run/server.pid removed");
    const log = readFileSync(join(b.root, ".run", "server.log"), "utf8");
    assert.match(log, new RegExp(`^--- \\S+ quickstart: jobexec-server \\(pid ${pid}\\) exited with status 0\\n$`, "m"));
    assert.equal(log.match(/quickstart: starting jobexec-server/g)?.length, 1, "appended, never overwritten");
  });

  test("setup says which links it re-points, from where to where, and leaves a real pnpm and other programs alone", async () => {
    const binDir = join(homes, "bin");
    mkdirSync(binDir);
    symlinkSync(join(a.root, "bin", "jobexec"), join(binDir, "jobexec"));
    const pnpm = "#!/bin/sh\necho 'a real pnpm of the user'\n";
    writeFileSync(join(binDir, "pnpm"), pnpm, { mode: 0o755 });
    symlinkSync("/bin/true", join(binDir, "cgexec"));
    // No pnpm on PATH but a real one in the bin dir: setup would like to add its pnpm there, and must not.
    const result = await run(b.root, ["bash", "scripts/setup.sh"], newUserEnv({ PATH: "/usr/bin:/bin", JOBEXEC_BIN_DIR: binDir }), 8 * minutes);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`^setup: re-linked ${binDir}/jobexec from ${a.root}/bin/jobexec to ${b.root}/bin/jobexec$`, "m"));
    assert.match(result.stderr, new RegExp(`^setup: linked ${binDir}/jobexec-server -> ${b.root}/bin/jobexec-server$`, "m"));
    assert.match(result.stderr, new RegExp(`^setup: left ${binDir}/pnpm as it is \\(not a jobexec link\\); this checkout's pnpm is ${b.root}/bin/pnpm$`, "m"));
    assert.match(result.stderr, new RegExp(`^setup: left ${binDir}/cgexec as it is \\(not a jobexec link: it points to /bin/true\\); this checkout's cgexec is ${b.root}/bin/cgexec$`, "m"));
    assert.equal(readFileSync(join(binDir, "pnpm"), "utf8"), pnpm);
    assert.equal(readlinkSync(join(binDir, "jobexec")), join(b.root, "bin", "jobexec"));
    const again = await run(b.root, ["bash", "scripts/setup.sh"], newUserEnv({ PATH: "/usr/bin:/bin", JOBEXEC_BIN_DIR: binDir }), 8 * minutes);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /linked/, "a second run changes no link");
  });

  test("test.sh without the VM tier's packages: host tests pass, the VM tier skips with one line, the totals say so", { skip: !root && "needs root for a mount namespace that hides the packages" }, async () => {
    // A private mount namespace in which qemu, cpio, file and apt-get look absent (/dev/null mounted over them).
    const hide = ["qemu-system-x86_64", "cpio", "file", "apt-get"].flatMap((tool) => {
      const path = ["/usr/bin", "/bin"].map((dir) => join(dir, tool)).find((p) => existsSync(p));
      return path === undefined ? [] : [realpathSync(path)];
    });
    const script = `for f in "$@"; do mount --bind /dev/null "$f" || exit 99; done; exec bash scripts/test.sh -p @jobexec/testing-vm`;
    const result = await run(a.root, ["unshare", "--mount", "--propagation", "private", "bash", "-c", script, "hide", ...hide], newUserEnv({ JOBEXEC_BIN_DIR: a.binDir }), 10 * minutes);
    assert.equal(result.code, 0, result.stdout.slice(-3000));
    const skipped = [...result.stdout.matchAll(/^testing-vm: vm tier: skipped \((.+)\)$/gm)];
    assert.equal(skipped.length, 1, "one line says the VM tier is skipped");
    assert.match(skipped[0]?.[1] ?? "", /^no qemu-system-x86_64; to run it, install qemu-system-x86, .* run packages\/testing-vm\/install-deps\.sh as root/);
    assert.match(result.stdout, /# needs cpio \(packages\/testing-vm\/install-deps\.sh installs it\)/, "the host tests that need cpio skip, saying why");
    const totals = result.stdout.trimEnd().split("\n").at(-1) ?? "";
    assert.match(totals, /^total: [1-9]\d* passed, 0 failed, [1-9]\d* skipped; vm tier: skipped \(no qemu-system-x86_64; .+\)$/);
  });
});
