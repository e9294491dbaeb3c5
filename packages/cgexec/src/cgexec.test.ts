// End-to-end tests of the built program (dist/cgexec.js; `pnpm run build` first) in a real
// cgroup v2 hierarchy: one fresh cgroup per test, removed after it.
import assert from "node:assert/strict";
import { spawn, type SpawnOptions } from "node:child_process";
import { once } from "node:events";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { cgroup2Mount } from "./cgroup2-mount.ts";
import { cgexecPath } from "./index.ts";
import { makeCgroup } from "./test-support/cgroup.ts";

interface Run {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What the parent read from each extra pipe, by descriptor number. */
  readonly pipes: ReadonlyMap<number, string>;
}

/** Run cgexec with `args` to its end (or `options.file` with `args`), collecting stdout, stderr and any extra pipe. */
async function run(args: readonly string[], options: SpawnOptions & { file?: string } = {}): Promise<Run> {
  const { file, ...spawnOptions } = options;
  const argv = file === undefined ? [cgexecPath, ...args] : args;
  const child = spawn(file ?? process.execPath, argv, { stdio: ["ignore", "pipe", "pipe"], ...spawnOptions });
  const texts = child.stdio.map((stream) => (stream === null ? undefined : collect(stream as Readable)));
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  const read = await Promise.all(texts);
  const pipes = new Map<number, string>();
  read.forEach((text, fd) => fd > 2 && text !== undefined && pipes.set(fd, text));
  return { pid: child.pid ?? -1, code, signal, stdout: read[1] ?? "", stderr: read[2] ?? "", pipes };
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

const root = cgroup2Mount();


// Per test, never per suite: a suite timeout would cancel the tests left when it expires.
const timeout = 30_000;

describe("cgexec", { skip: root === undefined && "no cgroup v2 hierarchy mounted (skipping)" }, () => {
  let tmp = "";
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "cgexec-test-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("puts the target in the cgroup before it runs, under cgexec's own pid", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec");
    const child = spawn(
      process.execPath,
      [cgexecPath, "--status-fd=3", cg.path, "sh", "-c", "echo $$; cat /proc/$$/cgroup; exec sleep 60"],
      { stdio: ["ignore", "pipe", "inherit", "pipe"] },
    );
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "close");
      }
    });
    const status = collect(child.stdio[3] as Readable);
    const stdout = child.stdout as Readable;
    stdout.setEncoding("utf8");
    let text = "";
    while (!text.includes("0::")) text += String((await once(stdout, "data"))[0]);
    assert.equal(await status, "", "the status fd closes without a byte on success");
    const [pid, ...cgroupLines] = text.trim().split("\n");
    assert.equal(Number(pid), child.pid, "the target runs under cgexec's pid");
    assert.ok(cgroupLines.includes(`0::${cg.name}`), `target saw itself in ${cgroupLines.join(", ")}`);
    // And from outside, while it runs.
    assert.ok(readFileSync(`/proc/${child.pid}/cgroup`, "utf8").split("\n").includes(`0::${cg.name}`));
    // (cat may still be there, exiting: it is the target's child, in the cgroup too.)
    assert.ok(readFileSync(join(cg.path, "cgroup.procs"), "utf8").trim().split("\n").includes(String(child.pid)));
  });

  it("passes argv through verbatim, argv[0] included", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec");
    // `; true` keeps sh from exec-ing cat, so /proc/$$ stays sh's.
    const argv = ["sh", "-c", "cat /proc/$$/cmdline; true", "arg0", "two words", "", "'single'", '"double"', "ünïcödé ✓ 🚀", "a\nb", "--", "-x", "$HOME", "back\\slash", " "];
    const result = await run([cg.path, ...argv]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.split("\0"), [...argv, ""]);
  });

  it("passes the environment through verbatim", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec");
    const env = {
      PATH: process.env.PATH ?? "/bin:/usr/bin",
      SPACES: " a b ",
      EMPTY: "",
      QUOTES: `'"\``,
      UNICODE: "ünïcödé ✓ 🚀",
      NEWLINE: "one\ntwo",
      EQUALS: "a=b=c",
      ÜNÏ_KEY: "value",
      BIG: "x".repeat(100_000),
    };
    const result = await run([cg.path, "env", "-0"], { env });
    assert.equal(result.code, 0, result.stderr);
    const seen = result.stdout.split("\0").slice(0, -1);
    assert.deepEqual(seen, Object.entries(env).map(([key, value]) => `${key}=${value}`));
  });

  it("passes the target's exit status and death signal through", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec");
    assert.equal((await run([cg.path, "sh", "-c", "exit 7"])).code, 7);
    assert.equal((await run([cg.path, "sh", "-c", "kill -TERM $$"])).signal, "SIGTERM");
  });

  it("gives the target default signal dispositions (Node ignores SIGPIPE and SIGXFSZ)", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec");
    const status = await run([cg.path, "cat", "/proc/self/status"]);
    assert.match(status.stdout, /^SigIgn:\s+0+$/m);
    assert.match(status.stdout, /^SigBlk:\s+0+$/m);
    // With SIGPIPE ignored, yes would get EPIPE and complain instead of dying quietly.
    const pipeline = await run([cg.path, "sh", "-c", "yes | head -n 1"]);
    assert.deepEqual([pipeline.code, pipeline.stdout, pipeline.stderr], [0, "y\n", ""]);
  });

  describe("command lookup", () => {
    before(() => {
      for (const name of ["d1", "d2"]) {
        mkdirSync(join(tmp, name));
        writeFileSync(join(tmp, name, "prog"), `#!/bin/sh\necho ${name} "$@"\n`, { mode: 0o755 });
      }
      writeFileSync(join(tmp, "d1", "plain"), 'echo "plain:$0:$1"\n', { mode: 0o755 });
    });

    it("searches PATH in order", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const d1 = join(tmp, "d1");
      const d2 = join(tmp, "d2");
      assert.equal((await run([cg.path, "prog", "x"], { env: { PATH: `${d1}:${d2}` } })).stdout, "d1 x\n");
      assert.equal((await run([cg.path, "prog", "x"], { env: { PATH: `/nonexistent:${d2}:${d1}` } })).stdout, "d2 x\n");
    });

    it("reads an empty PATH entry as the current directory", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const result = await run([cg.path, "prog"], { env: { PATH: "/nonexistent::/bin" }, cwd: join(tmp, "d2") });
      assert.equal(result.stdout, "d2\n");
    });

    it("runs relative and absolute paths as given, without a search", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const env = { PATH: join(tmp, "d2") };
      assert.equal((await run([cg.path, "./prog"], { env, cwd: join(tmp, "d1") })).stdout, "d1\n");
      assert.equal((await run([cg.path, "d1/prog"], { env, cwd: tmp })).stdout, "d1\n");
      assert.equal((await run([cg.path, join(tmp, "d1", "prog")], { env })).stdout, "d1\n");
    });

    it("uses /bin:/usr/bin when PATH is unset", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      assert.equal((await run([cg.path, "sh", "-c", "echo ok"], { env: {} })).stdout, "ok\n");
      const result = await run([cg.path, "prog"], { env: {}, cwd: join(tmp, "d1") });
      assert.equal(result.code, 127, "the current directory is not searched");
    });

    it("runs a file that is neither ELF nor a script with /bin/sh, like execvp", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const result = await run([cg.path, "./plain", "arg"], { cwd: join(tmp, "d1") });
      assert.deepEqual([result.code, result.stdout], [0, "plain:./plain:arg\n"]);
    });
  });

  describe("its own failures: one line on stderr and a conventional exit code", () => {
    const cases: [string, (cg: string) => string[], number, RegExp][] = [
      ["a missing cgroup directory", (cg) => [`${cg}-missing`, "true"], 125, /^cgexec: cgroup \S+-missing: no such file or directory\n$/],
      ["a directory that is not a cgroup", () => [tmp, "true"], 125, /^cgexec: cgroup \S+: not a cgroup v2 directory\n$/],
      ["a cgroup file instead of a directory", (cg) => [`${cg}/cgroup.procs`, "true"], 125, /^cgexec: cgroup \S+: opening cgroup.procs: not a directory\n$/],
      ["a command not found", (cg) => [cg, "no-such-command-here"], 127, /^cgexec: no-such-command-here: command not found\n$/],
      ["a path not found", (cg) => [cg, "/no/such/file"], 127, /^cgexec: \/no\/such\/file: no such file or directory\n$/],
      ["a directory as command", (cg) => [cg, "/tmp"], 126, /^cgexec: \/tmp: is a directory\n$/],
      ["a file without execute permission", (cg) => [cg, join(tmp, "no-exec")], 126, /^cgexec: \S+\/no-exec: permission denied\n$/],
      ["a script whose interpreter is missing", (cg) => [cg, join(tmp, "bad-interp")], 127, /^cgexec: \S+bad-interp: bad interpreter \/nonexistent\/sh: no such file or directory\n$/],
      ["no COMMAND", (cg) => [cg], 125, /^cgexec: missing COMMAND \(usage: cgexec .*\)\n$/],
      ["an unknown option", (cg) => ["--frobnicate", cg, "true"], 125, /^cgexec: unknown option --frobnicate \(usage: .*\)\n$/],
      ["a bad status fd", (cg) => ["--status-fd=99", cg, "true"], 125, /^cgexec: --status-fd=99: bad file descriptor\n$/],
      ["a status fd of stdio", (cg) => ["--status-fd=1", cg, "true"], 125, /^cgexec: --status-fd needs a descriptor number >= 3, got "1"\n$/],
    ];
    before(() => {
      writeFileSync(join(tmp, "bad-interp"), "#!/nonexistent/sh\n", { mode: 0o755 });
      writeFileSync(join(tmp, "no-exec"), "#!/bin/sh\n", { mode: 0o644 });
    });

    for (const [what, args, code, message] of cases) {
      it(`${what} -> ${code}`, { timeout }, async (t) => {
        const cg = makeCgroup(t, root as string, "cgexec");
        const result = await run(args(cg.path));
        assert.deepEqual([result.code, result.stdout], [code, ""]);
        assert.match(result.stderr, message);
        assert.equal(readFileSync(join(cg.path, "cgroup.procs"), "utf8"), "", "nothing joined the cgroup");
      });
    }

    it("does not create cgroup.procs in a plain directory", { timeout }, async () => {
      await run([tmp, "true"]);
      assert.equal(existsSync(join(tmp, "cgroup.procs")), false);
    });

    it("prints the usage on stderr without arguments (125) and on stdout for --help (0)", { timeout }, async () => {
      const bare = await run([]);
      assert.deepEqual([bare.code, bare.stdout], [125, ""]);
      assert.match(bare.stderr, /^Usage: cgexec \[--status-fd=N\] \[--uid=N --gid=N \[--groups=G,\.\.\.\]\] \[isolation\] \[--\] CGROUP_DIR COMMAND \[ARGS\.\.\.\]\n/);
      const help = await run(["--help"]);
      assert.deepEqual([help.code, help.stdout, help.stderr], [0, bare.stderr, ""]);
    });
  });

  describe("descriptors", () => {
    // The launcher of cgexec's parent leaked a descriptor without O_CLOEXEC (as bash's `exec 251<>FILE` does).
    for (const drop of [false, true]) {
      it(`only 0, 1 and 2 reach the target${drop ? " (with --uid)" : ""}, whatever cgexec inherited`, { timeout }, async (t) => {
        const cg = makeCgroup(t, root as string, "cgexec");
        const ids = drop ? ["--uid=61184", "--gid=61184"] : [];
        const leaked = join(tmp, "leaked");
        writeFileSync(leaked, "");
        const script = 'exec 251<>"$0"; exec "$@"';
        // `ls` of the shell's descriptors (`; :` keeps the shell from exec-ing ls): it opens none of its own for -c.
        const target = ["sh", "-c", "ls /proc/$$/fd; :"];
        const result = await run(["-c", script, leaked, process.execPath, cgexecPath, ...(drop ? ids : ["--status-fd=3"]), cg.path, ...target], {
          stdio: ["ignore", "pipe", "pipe", "pipe"],
          file: "bash", // dash takes no descriptor above 9
        });
        assert.deepEqual([result.code, result.stderr, result.stdout], [0, "", "0\n1\n2\n"]);
      });
    }
  });

  describe("--uid, --gid, --groups", { skip: process.getuid?.() !== 0 && "needs root" }, () => {
    const account = ["--uid=61184", "--gid=61185", "--groups=61190,61191"];
    before(() => {
      chmodSync(tmp, 0o755);
      mkdirSync(join(tmp, "private"), { mode: 0o700 });
      writeFileSync(join(tmp, "private", "prog"), "#!/bin/sh\necho private\n", { mode: 0o755 });
      writeFileSync(join(tmp, "mine"), "#!/bin/sh\necho mine\n", { mode: 0o700 });
      chownSync(join(tmp, "mine"), 61184, 0);
      // A setuid-root copy of id(1): without no_new_privs, executing it would give back euid 0.
      mkdirSync(join(tmp, "suid"), { mode: 0o755 });
      copyFileSync("/usr/bin/id", join(tmp, "suid", "id"));
      chmodSync(join(tmp, "suid", "id"), 0o4755);
    });

    it("the target runs in the cgroup as the account: uid, gid, exactly those groups, no_new_privs", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const script = "cat /proc/$$/cgroup; grep -E '^(Uid|Gid|Groups|NoNewPrivs):' /proc/$$/status";
      const result = await run([...account, cg.path, "sh", "-c", script]);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split("\n");
      assert.ok(lines.includes(`0::${cg.name}`), result.stdout);
      assert.ok(lines.includes("Uid:\t61184\t61184\t61184\t61184"), result.stdout);
      assert.ok(lines.includes("Gid:\t61185\t61185\t61185\t61185"), result.stdout);
      assert.match(result.stdout, /^Groups:\t61190 61191 ?$/m);
      assert.ok(lines.includes("NoNewPrivs:\t1"), result.stdout);
    });

    it("without --groups the supplementary groups are cleared (root's are not kept)", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const result = await run(["--uid=61184", "--gid=61184", cg.path, "grep", "^Groups:", "/proc/self/status"]);
      assert.match(result.stdout, /^Groups:\s*$/);
    });

    it("a setuid-root binary does not give the account root (its euid stays the account's)", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const suid = join(tmp, "suid", "id");
      // The control: the same drop without no_new_privs does get euid 0 from it, so the binary works.
      const control = await run(["--reuid=61184", "--regid=61185", "--clear-groups", suid, "-u"], { file: "setpriv" });
      assert.deepEqual([control.code, control.stdout], [0, "0\n"], control.stderr);
      const result = await run([...account, cg.path, suid, "-u"]);
      assert.deepEqual([result.code, result.stdout, result.stderr], [0, "61184\n", ""]);
    });

    it("looks the command up as the account: what it may not reach is permission denied (126)", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const hidden = await run([...account, cg.path, join(tmp, "private", "prog")]);
      assert.deepEqual([hidden.code, hidden.stdout], [126, ""]);
      assert.equal(hidden.stderr, `cgexec: ${join(tmp, "private", "prog")}: permission denied\n`);
      // On PATH, an entry the account cannot search is skipped like execvp skips it.
      const skipped = await run([...account, cg.path, "prog"], { env: { PATH: `${join(tmp, "private")}:${join(tmp, "d1")}` } });
      assert.deepEqual([skipped.code, skipped.stdout], [0, "d1\n"], skipped.stderr);
      // Root could run both; the account runs the file it owns.
      assert.equal((await run([cg.path, join(tmp, "private", "prog")])).stdout, "private\n");
      assert.equal((await run([...account, cg.path, join(tmp, "mine")])).stdout, "mine\n");
    });

    it("the target gets argv verbatim, argv[0] included, as without --uid", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const result = await run([...account, cg.path, "sh", "-c", "echo $0"], { env: { PATH: "/usr/bin:/bin" } });
      assert.equal(result.stdout, "sh\n");
    });

    it("a drop that fails is a failure (125) and the target never runs", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const marker = join(tmp, "ran");
      // cgexec as root without CAP_SETUID and CAP_SETGID (gone from the bounding set, so the exec does not grant them):
      // it cannot set ids. Still root, it reads the checkout wherever it is (a 0700 directory too).
      const args = ["--bounding-set=-setuid,-setgid", process.execPath, cgexecPath, "--no-cgroup", ...account, "touch", marker];
      const result = await run(args, { file: "setpriv" });
      assert.deepEqual([result.code, result.stdout], [125, ""]);
      assert.equal(result.stderr, "cgexec: cannot switch to uid 61184, gid 61185: setting the supplementary groups: operation not permitted\n");
      assert.equal(existsSync(marker), false);
      assert.equal(readFileSync(join(cg.path, "cgroup.procs"), "utf8"), "");
    });

    it("--no-cgroup runs the target where cgexec is, with the same drop", { timeout }, async () => {
      const result = await run(["--no-cgroup", ...account, "sh", "-c", "id -u; cat /proc/$$/cgroup"]);
      assert.equal(result.code, 0, result.stderr);
      const [uid, ...cgroups] = result.stdout.trim().split("\n");
      assert.equal(uid, "61184");
      assert.deepEqual(cgroups, readFileSync("/proc/self/cgroup", "utf8").trim().split("\n"));
    });
  });

  describe("--status-fd", () => {
    // fd 3 is what the job library uses; fd 20 is above the range libuv marks close-on-exec.
    for (const fd of [3, 20]) {
      it(`fd ${fd}: end-of-file without a byte on success, and the target does not inherit it`, { timeout }, async (t) => {
        const cg = makeCgroup(t, root as string, "cgexec");
        const stdio = ["ignore", "pipe", "pipe", ...Array<"ignore">(fd - 3).fill("ignore"), "pipe"] as const;
        const script = `if [ -e /proc/$$/fd/${fd} ]; then echo open; else echo closed; fi`;
        const result = await run([`--status-fd=${fd}`, cg.path, "sh", "-c", script], { stdio: [...stdio] });
        assert.deepEqual([result.code, result.stdout, result.stderr, result.pipes.get(fd)], [0, "closed\n", "", ""]);
      });
    }

    it("reports a failure on the fd, bare, and nothing on stderr", { timeout }, async (t) => {
      const cg = makeCgroup(t, root as string, "cgexec");
      const stdio = ["ignore", "pipe", "pipe", "pipe"] as const;
      const notFound = await run(["--status-fd=3", cg.path, "no-such-command-here"], { stdio: [...stdio] });
      assert.deepEqual(
        [notFound.code, notFound.stdout, notFound.stderr, notFound.pipes.get(3)],
        [127, "", "", "no-such-command-here: command not found\n"],
      );
      const noCgroup = await run(["--status-fd", "3", `${cg.path}-missing`, "true"], { stdio: [...stdio] });
      assert.deepEqual([noCgroup.code, noCgroup.stderr], [125, ""]);
      assert.equal(noCgroup.pipes.get(3), `cgroup ${cg.path}-missing: no such file or directory\n`);
    });
  });
});
