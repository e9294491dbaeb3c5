// End-to-end tests of cgexec's isolation (dist/cgexec.js and dist/cgexec-enter; `pnpm run build` first): real
// namespaces and mounts, in a fresh cgroup per test. Everything mounted is inside the job's own mount namespace.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { parseOptions } from "./cgexec.ts";
import { cgroup2Mount } from "./cgroup2-mount.ts";
import { cgexecPath, enterHelperPath } from "./index.ts";
import { makeCgroup } from "./test-support/cgroup.ts";

const root = cgroup2Mount();
const timeout = 30_000;
const nobody = ["--uid=65534", "--gid=65534"];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** What came on the status descriptor (standard input), with --status-fd=0. */
  status: string;
}

async function collect(stream: Readable | null): Promise<string> {
  if (stream === null) return "";
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Runs cgexec with `args`, its status pipe on its standard input (read back through the pipe's other side). */
async function run(args: readonly string[], cwd = "/"): Promise<Run> {
  const child = spawn(process.execPath, [cgexecPath, "--status-fd=0", ...args], { stdio: ["pipe", "pipe", "pipe"], cwd });
  // Node wraps a child's stdin write-only; the pipe is a socket pair, readable from here on the same handle.
  const handle = (child.stdin as unknown as { _handle: unknown })._handle;
  const status = collect(new Socket({ handle, readable: true, writable: false } as ConstructorParameters<typeof Socket>[0]));
  const [stdout, stderr] = [collect(child.stdout), collect(child.stderr)];
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout: await stdout, stderr: await stderr, status: await status };
}


describe("cgexec isolation options", () => {
  it("parses --network-none, --private-tmp=BYTES, --read-only and --writable=DIR; refuses what cannot work", () => {
    const options = parseOptions(["--status-fd=0", "--network-none", "--private-tmp=1024", "--read-only", "--writable=/srv", "/cg", "true"]);
    assert.deepEqual(options.isolation, { networkNone: true, privateTmpBytes: 1024, readOnly: true, writable: ["/srv"] });
    assert.equal(parseOptions(["/cg", "true"]).isolation, undefined);
    const refused: [string[], RegExp][] = [
      [["--private-tmp=0", "/cg", "true"], /^--private-tmp needs a size in bytes above 0, got "0"$/],
      [["--private-tmp=1M", "/cg", "true"], /^--private-tmp needs a size in bytes above 0, got "1M"$/],
      [["--writable=/srv", "/cg", "true"], /^--writable needs --read-only/],
      [["--read-only", "--writable=srv", "/cg", "true"], /^--writable needs an absolute path, got "srv"$/],
      // Node makes descriptors above 2 close-on-exec: cgexec-enter only gets the status on standard input.
      [["--status-fd=3", "--network-none", "/cg", "true"], /^with --uid or isolation, --status-fd must be 0 .*, got "3"$/],
      [["--status-fd=0", "/cg", "true"], /^--status-fd needs a descriptor number >= 3, got "0"$/],
    ];
    for (const [args, message] of refused) assert.throws(() => parseOptions(args), { name: "CgexecError", message });
  });
});

describe("cgexec isolation", { skip: (root === undefined || !existsSync(enterHelperPath)) && "no cgroup v2 hierarchy, or cgexec-enter not built (skipping)" }, () => {
  let scratch = "";
  before(() => {
    // Not under /tmp, which a private /tmp hides.
    scratch = mkdtempSync("/var/lib/cgexec-isolation-");
    chmodSync(scratch, 0o777);
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it("all three, as an account: the cgroup first, only lo, a private tmpfs, / read-only, the cwd writable, stdin /dev/null", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec").path;
    const script = [
      "grep ^0:: /proc/self/cgroup",
      "id -u",
      "grep NoNewPrivs /proc/self/status",
      "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
      "stat -f -c %T /tmp /var/tmp",
      "df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2",
      "readlink /proc/self/fd/0",
      "ls /proc/self/fd | tr '\\n' ' '; echo",
      "echo x > /var/x 2>/dev/null || echo '/var read-only'",
      "echo x > ./here && echo 'cwd writable'",
      "pwd",
    ].join("; ");
    const result = await run([...nobody, "--network-none", "--private-tmp=2097152", "--read-only", cg, "/bin/sh", "-c", script], scratch);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.status, "", "the status closes without a byte once the program runs");
    assert.deepEqual(result.stdout.trim().split("\n"), [
      `0::${cg.slice((root as string).length)}`,
      "65534",
      "NoNewPrivs:\t1",
      "lo",
      "tmpfs",
      "tmpfs",
      "2048",
      "/dev/null",
      // ls itself opens one more descriptor to list the directory.
      "0 1 2 3 ",
      "/var read-only",
      "cwd writable",
      scratch,
    ]);
  });

  it("a --writable directory reached through a symbolic link stays writable (the link is resolved first)", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec").path;
    const real = join(scratch, "real");
    mkdirSync(real, { recursive: true });
    chmodSync(real, 0o777);
    const link = join(scratch, "link");
    rmSync(link, { force: true });
    symlinkSync(real, link);
    const result = await run([...nobody, "--read-only", `--writable=${link}`, cg, "/bin/sh", "-c", `echo x > ${link}/f && echo written; echo x > ${scratch}/g 2>/dev/null || echo 'beside it read-only'`]);
    assert.equal(result.code, 0, result.status + result.stderr);
    assert.equal(result.stdout, "written\nbeside it read-only\n");
  });

  it("a step that fails is one line on the status descriptor and exit 125; the program never runs", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec").path;
    const marker = join(scratch, `ran-${randomUUID()}`);
    const result = await run(["--read-only", "--writable=/nonexistent-jobexec", cg, "/bin/sh", "-c", `touch ${marker}`]);
    assert.equal(result.code, 125);
    assert.equal(result.status, "read-only system: cannot keep /nonexistent-jobexec writable: No such file or directory\n");
    assert.equal(existsSync(marker), false);
    // A program the private /tmp hides: found before the mounts, gone after them.
    const hidden = join("/tmp", `cgexec-isolation-${randomUUID()}`);
    writeFileSync(hidden, "#!/bin/sh\necho ran\n", { mode: 0o755 });
    t.after(() => rmSync(hidden, { force: true }));
    const gone = await run(["--private-tmp=1048576", cg, hidden]);
    assert.equal(gone.code, 127);
    assert.equal(gone.status, `${hidden}: no such file or directory\n`);
    assert.equal(gone.stdout, "");
  });

  it("the account cannot undo it: no new namespaces with mounts of its own, no remount, no unmount, no setuid root", { timeout }, async (t) => {
    const cg = makeCgroup(t, root as string, "cgexec").path;
    // A setuid-root copy of id, which gives euid 0 to whoever runs it without no_new_privs.
    const id = join(scratch, "id-setuid");
    copyFileSync("/usr/bin/id", id);
    chmodSync(id, 0o4755);
    const script = [
      "unshare -m true 2>/dev/null && echo 'unshare -m worked' || echo 'unshare -m refused'",
      "unshare -n true 2>/dev/null && echo 'unshare -n worked' || echo 'unshare -n refused'",
      "mount -o remount,rw / 2>/dev/null && echo 'remount worked' || echo 'remount refused'",
      "umount /tmp 2>/dev/null && echo 'umount worked' || echo 'umount refused'",
      // In a user namespace of its own (where the kernel allows one) the inherited mounts stay locked.
      "unshare -U -r -m sh -c 'mount -o remount,rw / || umount /tmp || exit 1; echo unlocked' 2>/dev/null || echo 'locked in a user namespace'",
      `${id} -u`,
    ].join("; ");
    const result = await run([...nobody, "--network-none", "--private-tmp=1048576", "--read-only", cg, "/bin/sh", "-c", script], scratch);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), ["unshare -m refused", "unshare -n refused", "remount refused", "umount refused", "locked in a user namespace", "65534"]);
  });
});
