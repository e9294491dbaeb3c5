// jobexec-server's account settings as an operator meets them: each --run-as mode, quotas, the start-up checks
// and every bad configuration (one sentence, exit 2), on a real server child process with real certificates.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, JobState, QueuePolicy } from "@jobexec/proto";
import { initCertificates, issueClientCertificate, readCredentials } from "./certificates/cert-files.ts";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { failure, readOutput } from "./test-support/test-harness.ts";
import { launchServer, listening, type ServerChild } from "./test-support/test-process.ts";

const skip = process.getuid?.() !== 0 && "needs root";

describe("jobexec-server --run-as and quotas", { skip, timeout: 300_000 }, () => {
  let dir: string;
  let config: string;
  const servers: ServerChild[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-run-as-"));
    await chmod(dir, 0o711);
    config = join(dir, "config");
    await initCertificates(config, { user: "admin" });
    for (const name of ["alice", "bob", "ci-7"]) await issueClientCertificate(config, name);
  });
  after(async () => {
    for (const server of servers) {
      if (server.proc.exitCode === null && server.proc.signalCode === null) {
        server.proc.kill("SIGTERM");
        await server.exit;
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** A server with `args` on its own data directory, and a client per identity. */
  async function serve(name: string, args: string[]): Promise<{ server: ServerChild; client(who: string): Client<typeof JobService> }> {
    const server = launchServer(["--listen", "127.0.0.1:0", "--data-dir", join(dir, name), "--cgroup-parent", testCgroupParent(), "--grace", "1s", ...args], { JOBEXEC_CONFIG_DIR: config });
    servers.push(server);
    const { url } = await listening(server);
    const ca = readFileSync(join(config, "ca.pem"));
    const credentials = new Map(
      await Promise.all(["alice", "bob", "ci-7", "admin"].map(async (who) => [who, who === "admin" ? await readCredentials(config, "client") : await readCredentials(join(config, "clients"), who)] as const)),
    );
    return { server, client: (who) => createClient(JobService, createGrpcTransport({ baseUrl: url, nodeOptions: { ca, ...credentials.get(who) } })) };
  }

  async function idOf(client: Client<typeof JobService>): Promise<string> {
    const { job } = await client.startJob({ program: "sh", args: ["-c", "id -u; id -g; id -G"] });
    assert.ok(job);
    const out = await readOutput(client.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.job?.exitCode, 0, out.stderr.toString());
    return out.stdout.toString().trim().replaceAll("\n", " ");
  }

  test("dynamic, the default: the quota per user and per admin, each RESOURCE_EXHAUSTED naming its flag with queue policy REFUSE", async () => {
    // The old name of --max-running-per-user still works.
    const { server, client } = await serve("dynamic", ["--max-jobs-per-user", "2", "--max-jobs-admin", "3"]);
    const listening = server.lines.find((l) => l.msg === "listening");
    assert.deepEqual([listening?.runAs, listening?.maxJobs], ["dynamic", { perUser: 2, admin: 3 }]);
    assert.match(await idOf(client("alice")), /^(6\d{4}) \1 \1$/);
    const alice = client("alice");
    for (let i = 0; i < 2; i++) await alice.startJob({ program: "sleep", args: ["100"] });
    const refused = await failure(alice.startJob({ program: "sleep", args: ["100"], queuePolicy: QueuePolicy.REFUSE }));
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.equal(refused.rawMessage, "alice already has 2 running jobs, the limit of 2 running jobs per identity (--max-running-per-user): stop one or wait for one to end");
    // Bob has quota of his own; the admin has the admin's.
    await client("bob").startJob({ program: "true" });
    const admin = client("admin");
    for (let i = 0; i < 3; i++) await admin.startJob({ program: "sleep", args: ["100"] });
    assert.match((await failure(admin.startJob({ program: "true", queuePolicy: QueuePolicy.REFUSE }))).rawMessage, /^admin already has 3 running jobs, .* \(--max-jobs-admin\)/);
  });

  test("dynamic: a program not on PATH is named without the server's PATH; a cwd the account cannot enter is INVALID_ARGUMENT; what it cannot reach is answered like what is missing", async () => {
    const { client } = await serve("dynamic-checks", []);
    const alice = client("alice");
    const missing = await failure(alice.startJob({ program: "no-such-program-xyz" }));
    assert.equal(missing.code, Code.InvalidArgument);
    assert.equal(missing.rawMessage, `program "no-such-program-xyz" not found on the server's PATH`);
    const closed = join(dir, "closed");
    await mkdir(closed, { mode: 0o700 });
    const cwd = await failure(alice.startJob({ program: "true", workingDirectory: closed }));
    assert.equal(cwd.code, Code.InvalidArgument);
    assert.match(cwd.rawMessage, new RegExp(`^cwd "${closed}" cannot be entered by the job's account \\(alice, uid \\d+\\): ${closed} is not searchable by it$`));
    await writeFile(join(closed, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    // What is behind a directory the account cannot search is answered exactly like what does not exist there.
    await mkdir(join(closed, "sub"));
    const answer = async (request: { program: string; workingDirectory?: string }, name: string): Promise<string> => {
      const error = await failure(alice.startJob(request));
      assert.equal(error.code, Code.InvalidArgument);
      return error.rawMessage.replaceAll(name, "NAME");
    };
    const program = await answer({ program: join(closed, "tool") }, "tool");
    assert.match(program, new RegExp(`^program "${closed}/NAME" not found \\(${closed}/NAME does not exist or is not reachable by the job's account, uid \\d+\\)$`));
    assert.equal(await answer({ program: join(closed, "nothing") }, "nothing"), program);
    const below = await answer({ program: "true", workingDirectory: join(closed, "sub") }, "sub");
    assert.match(below, new RegExp(`^cwd "${closed}/NAME" does not exist or is not reachable by the job's account \\(alice, uid \\d+\\)$`));
    assert.equal(await answer({ program: "true", workingDirectory: join(closed, "nothing") }, "nothing"), below);
    assert.equal((await alice.listJobs({})).jobs.length, 0, "nothing was started");
  });

  test("mapped: identities run as the map's accounts, uid 0 only by root! (a warning), anyone else PERMISSION_DENIED", async () => {
    const map = join(dir, "users.map");
    await writeFile(map, "# identity: account\nalice: postgres\nci-*: daemon\nadmin: root!\n");
    const { server, client } = await serve("mapped", ["--run-as", "mapped", "--user-map", map]);
    const postgres = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"))?.split(":");
    assert.ok(postgres, "this host has a postgres account");
    const alice = await idOf(client("alice"));
    assert.equal(alice.split(" ").slice(0, 2).join(" "), `${String(postgres[2])} ${String(postgres[3])}`);
    assert.ok(alice.split(" ").length > 3, `postgres's supplementary groups: ${alice}`);
    assert.equal(await idOf(client("ci-7")), "1 1 1");
    assert.match(await idOf(client("admin")), /^0 0 0/);
    const { job } = await client("alice").startJob({ program: "true" });
    assert.deepEqual([job?.account, job?.uid], ["postgres", Number(postgres[2])]);
    const denied = await failure(client("bob").startJob({ program: "true" }));
    assert.equal(denied.code, Code.PermissionDenied);
    assert.equal(denied.rawMessage, '"bob" has no account to run jobs as: the user map names no account for it');
    assert.ok(server.lines.some((l) => l.level === "warn" && l.msg === `user map ${map}:4: jobs of "admin" run as root, uid 0: they can do whatever root can`));
  });

  test("server: jobs run as the server's user, said as a warning at start-up", async () => {
    const { server, client } = await serve("server", ["--run-as", "server"]);
    assert.equal(await idOf(client("alice")), "0 0 0");
    const warning = server.lines.find((l) => l.level === "warn" && String(l.msg).startsWith("jobs run as the server's own user"));
    assert.ok(warning, server.stderr.join("\n"));
    const { job } = await client("bob").startJob({ program: "true" });
    assert.equal(job?.state, JobState.RUNNING);
    assert.deepEqual([job?.account, job?.uid, job?.gid], ["root", 0, 0]);
  });

  test("every bad configuration: one sentence on stderr, exit 2, nothing served", async () => {
    const maps = join(dir, "maps");
    await mkdir(maps);
    const map = async (name: string, text: string): Promise<string> => {
      await writeFile(join(maps, name), text);
      return join(maps, name);
    };
    const closed = await mkdtemp(join(tmpdir(), "jobexec-closed-")); // 0700, as mkdtemp makes it
    const cases: [string[], RegExp][] = [
      [["--run-as", "root"], /^--run-as "root" is not one of dynamic, mapped, server$/],
      [["--uid-range", "0-100"], /^--uid-range: uid range 0-100 includes uid 0 \(root\)$/],
      [["--uid-range", "65519-61184"], /^--uid-range: uid range 65519-61184 is empty \(its first uid is above its last\)$/],
      [["--uid-range", "lots"], /^--uid-range: uid range "lots" is not FIRST-LAST, e.g\. 61184-65519$/],
      [["--run-as", "mapped"], /^--run-as mapped needs --user-map FILE \(lines IDENTITY: ACCOUNT\)$/],
      [["--user-map", "/etc/hostname"], /^--user-map is only read with --run-as mapped, not dynamic$/],
      [["--run-as", "server", "--uid-range", "1000-2000"], /^--uid-range only applies to --run-as dynamic, not server$/],
      [["--max-jobs-per-user", "0"], /^--max-jobs-per-user "0" is not a whole number above 0$/],
      [["--max-jobs-admin", "many"], /^--max-jobs-admin "many" is not a whole number above 0$/],
      [["--run-as", "mapped", "--user-map", join(maps, "none")], /^cannot read the user map \S+none: ENOENT/],
      [["--run-as", "mapped", "--user-map", await map("bad", "alice postgres\n")], /^user map \S+bad:1: "alice postgres" is not "IDENTITY: ACCOUNT"$/],
      [["--run-as", "mapped", "--user-map", await map("unknown", "alice: nosuchuser\n")], /^user map \S+unknown:1: there is no local account "nosuchuser" \(in \/etc\/passwd\)$/],
      [["--run-as", "mapped", "--user-map", await map("root", "ops: root\n")], /^user map \S+root:1: account "root" is uid 0; write "root!" to let jobs run as root$/],
      [["--data-dir", join(closed, "data")], new RegExp(`^the data directory ${closed}/data is out of reach of jobs' accounts: ${closed} \\(mode 0700\\) is not searchable by other users; run chmod o\\+x ${closed}, choose another data directory, or run jobs as the server's user \\(run-as server\\)$`)],
    ];
    try {
      for (const [args, message] of cases) {
        const withDir = args.includes("--data-dir") ? args : ["--data-dir", join(dir, "bad"), ...args];
        const child = launchServer(["--listen", "127.0.0.1:0", "--cgroup-parent", testCgroupParent(), ...withDir], { JOBEXEC_CONFIG_DIR: config });
        assert.equal(await child.exit, 2, `${args.join(" ")}: ${child.stderr.join("\n")}`);
        assert.equal(child.stderr.length, 1, child.stderr.join("\n"));
        assert.match(child.stderr[0]?.replace(/^jobexec-server: /, "") ?? "", message, args.join(" "));
      }
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});

