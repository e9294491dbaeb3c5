// What a new user stumbled on in their first hour (issue 27), each through the CLI as a subprocess against a real
// server: exact messages and exit codes.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { cliPath, collectCli, eventually, jsonOf, runCli, startCliServer, startedId, type CliServer } from "./testing/cli-fixture.ts";

const serverMain = fileURLToPath(import.meta.resolve("@jobexec/server").replace(/index\.js$/, "main.js"));
const run = promisify(execFile);

/** Runs the CLI on a pseudo-terminal (script(1)): what a person at a terminal sees, stdout and stderr together. */
async function onTerminal(t: CliServer, args: string[]): Promise<{ code: number | null; text: string }> {
  const command = [process.execPath, cliPath, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(" ");
  const env: NodeJS.ProcessEnv = { ...process.env, JOBEXEC_CONFIG_DIR: t.configDir("alice"), JOBEXEC_SERVER: t.address, NO_COLOR: "1" };
  delete env.FORCE_COLOR;
  const child = spawn("script", ["-qec", command, "/dev/null"], { env, stdio: ["ignore", "pipe", "pipe"] });
  const result = await collectCli(child);
  return { code: result.code, text: result.stdout.toString().replaceAll("\r\n", "\n") };
}

describe("a new user's first hour", { timeout: 300_000 }, () => {
  let t: CliServer;
  before(async () => {
    t = await startCliServer();
  });
  after(() => t.close());

  test("1. a job that fails to start says why, prints its id, and exits 126; a missing program is refused (exit 1)", async () => {
    const script = join(t.dir, "bad-interp.sh");
    await writeFile(script, "#!/no/interp\necho never\n");
    await chmod(script, 0o755);
    for (const args of [["start", "-f", "--", script], ["start", "--", script]]) {
      const result = await runCli(t, args);
      const id = result.stdout.toString().trim();
      assert.match(id, /^[0-9a-f-]{36}$/, args.join(" "));
      assert.equal(result.code, 126, result.stderr);
      assert.match(result.stderr, new RegExp(`^jobexec: job ${id} failed to start: .*bad interpreter /no/interp.* \\(\`jobexec status ${id}\` shows it\\)\\n$`));
      const stop = await runCli(t, ["stop", id]);
      assert.equal(stop.code, 0);
      assert.match(stop.stderr, new RegExp(`^jobexec: job ${id} had already ended \\(failed to start: .*bad interpreter /no/interp.*\\); nothing to stop\\n$`));
    }
    const json = await runCli(t, ["start", "--json", "--", script]);
    assert.equal(json.code, 126);
    assert.equal((JSON.parse(json.stdout.toString()) as { state: string }).state, "failed");
    const missing = await runCli(t, ["start", "-f", "--", "/no/such/program"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout.length, 0);
  });

  test("4. connection errors name where each setting came from; context current shows them; unknown contexts exit 2", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobexec-origins-"));
    const otherCa = join(dir, "other-ca.pem");
    await copyFile(join(t.configDir("foreign"), "client.pem"), otherCa);
    const env = { JOBEXEC_CONFIG_DIR: dir };
    const alice = t.configDir("alice");
    const added = await runCli(t, ["context", "add", "qs", "--server", "127.0.0.1:9", "--cert", join(alice, "client.pem"), "--key", join(alice, "client.key"), "--ca", otherCa], { server: null, env });
    assert.equal(added.code, 0, added.stderr);
    // The environment's address with the context's CA: both named.
    const mixed = await runCli(t, ["list", "--context", "qs"], { env });
    assert.equal(mixed.code, 1);
    assert.equal(mixed.stderr, `jobexec: TLS: the certificate of ${t.address} is not signed by our CA (unknown CA); our CA is ${otherCa} (from context "qs") and the address ${t.address} (from JOBEXEC_SERVER); the address and the CA came from different places (JOBEXEC_SERVER, context "qs"): check --ca / JOBEXEC_CA and --server / JOBEXEC_SERVER, and get the server's CA certificate from its administrator\n`);
    const current = await runCli(t, ["context", "current", "--context", "qs", "--key", join(alice, "client.key")], { env });
    assert.equal(current.code, 0, current.stderr);
    const width = Math.max(t.address.length, join(alice, "client.pem").length, otherCa.length, "qs".length);
    assert.equal(current.stdout.toString(), [
      `context: ${"qs".padEnd(width)}  (from --context)`,
      `server:  ${t.address.padEnd(width)}  (from JOBEXEC_SERVER)`,
      `cert:    ${join(alice, "client.pem").padEnd(width)}  (from context "qs")`,
      `key:     ${join(alice, "client.key").padEnd(width)}  (from --key)`,
      `ca:      ${otherCa.padEnd(width)}  (from context "qs")`,
      "",
    ].join("\n"));
    const json = jsonOf(await runCli(t, ["context", "current", "--json"], { server: null, env: { JOBEXEC_CONFIG_DIR: dir } }));
    assert.deepEqual(json, {
      context: { value: null, origin: "default" },
      server: { value: "127.0.0.1:50051", origin: "default" },
      cert: { value: join(dir, "client.pem"), origin: "default" },
      key: { value: join(dir, "client.key"), origin: "default" },
      ca: { value: join(dir, "ca.pem"), origin: "default" },
    });
    const unreachable = await runCli(t, ["list", "--context", "qs"], { server: null, env });
    assert.match(unreachable.stderr, /^jobexec: cannot reach jobexec-server at 127\.0\.0\.1:9 \(context qs\): connection refused; is it running\? \(the address is from context "qs"; set it with --server or JOBEXEC_SERVER\)\n$/);
    const use = await runCli(t, ["context", "use", "nope"], { env });
    const flag = await runCli(t, ["list", "--context", "nope"], { env });
    assert.deepEqual([use.code, flag.code], [2, 2]);
    // A key that is not the certificate's: both files, and where each came from.
    const bobKey = join(t.configDir("bob"), "client.key");
    const pair = await runCli(t, ["list", "--key", bobKey], { env: { JOBEXEC_CERT: join(alice, "client.pem"), JOBEXEC_CA: join(alice, "ca.pem"), JOBEXEC_CONFIG_DIR: dir } });
    assert.deepEqual([pair.code, pair.stderr], [1, `jobexec: client key does not match the client certificate; the key is ${bobKey} (from --key), the certificate ${join(alice, "client.pem")} (from JOBEXEC_CERT): check --key / JOBEXEC_KEY and --cert / JOBEXEC_CERT\n`]);
    // Without the CA file: where to get it.
    const noCa = await runCli(t, ["list"], { env: { JOBEXEC_CONFIG_DIR: dir, JOBEXEC_CERT: join(alice, "client.pem"), JOBEXEC_KEY: join(alice, "client.key") } });
    assert.equal(noCa.code, 1);
    assert.equal(noCa.stderr, `jobexec: CA certificate file ${join(dir, "ca.pem")} does not exist; get the server's CA certificate from its administrator and put it there or set --ca or JOBEXEC_CA (or, for a server of your own, run \`jobexec-server certs init\` to create ${dir})\n`);
  });

  test("5. a stop in progress shows as stopping; stop says what it waits for on a terminal; an ended job says so", async () => {
    // A job that ignores SIGTERM: the stop waits its whole grace period.
    const id = startedId(await runCli(t, ["start", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]));
    const stop = runCli(t, ["stop", "--grace", "10s", id]);
    let status = "";
    for (let i = 0; i < 200 && !status.includes("stopping"); i++) status = (await runCli(t, ["status", id])).stdout.toString();
    assert.match(status, new RegExp(`^● ${id} - stopping\\n +State: stopping \\(requested by alice, SIGTERM sent at [-0-9: ]+ UTC; SIGKILL at [-0-9: ]+ UTC unless it ends first\\); running since `));
    const list = (await runCli(t, ["list"])).stdout.toString();
    assert.match(list, new RegExp(`^${id}  alice  stopping `, "m"));
    const json = jsonOf<{ state: string; stopping: { reason: string; requestedBy: string; beginTime: string; killTime: string } }>(await runCli(t, ["status", "--json", id]));
    assert.equal(json.state, "running");
    assert.equal(json.stopping.reason, "requested");
    assert.equal(json.stopping.requestedBy, "alice");
    assert.equal(Date.parse(json.stopping.killTime) - Date.parse(json.stopping.beginTime), 10_000);
    const stopped = await stop;
    assert.equal(stopped.code, 0, stopped.stderr);
    const ended = await runCli(t, ["stop", id]);
    assert.equal(ended.code, 0);
    assert.match(ended.stderr, new RegExp(`^jobexec: job ${id} had already ended \\(stopped: killed by SIGKILL\\); nothing to stop\\n$`));
    assert.match(ended.stdout.toString(), new RegExp(`^○ ${id} - stopped\\n`));
    const slow = startedId(await runCli(t, ["start", "--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]));
    const terminal = await onTerminal(t, ["stop", "--grace", "1s", slow]);
    assert.equal(terminal.code, 0, terminal.text);
    assert.match(terminal.text, new RegExp(`^jobexec: stopping job ${slow}: SIGTERM sent; waiting for it to end, 1s at most \\(SIGKILL at [-0-9: ]+ UTC\\)\\n○ ${slow} - stopped\\n`));
  });

  test("7. start -f on a terminal prints the id first; list -q; flags named in refusals; --json -f in our words", async () => {
    const terminal = await onTerminal(t, ["start", "-f", "--", "echo", "hello"]);
    assert.equal(terminal.code, 0);
    assert.match(terminal.text, /^jobexec: started job [0-9a-f-]{36}\nhello\n$/);
    const id = startedId(await runCli(t, ["start", "--", "true"]));
    const quiet = await runCli(t, ["list", "-q"]);
    assert.equal(quiet.code, 0);
    assert.match(quiet.stdout.toString(), /^([0-9a-f-]{36}\n)+$/);
    assert.ok(quiet.stdout.toString().split("\n").includes(id));
    const denied = await runCli(t, ["list", "--all"]);
    assert.deepEqual([denied.code, denied.stderr], [1, "jobexec: permission denied: only admins may list other users' jobs (--all, --owner); without them, list shows your own\n"]);
    const both = await runCli(t, ["start", "--json", "-f", "--", "true"]);
    assert.deepEqual([both.code, both.stderr], [2, "jobexec: --json and --follow cannot be used together: --json prints the started job, --follow its output (see `jobexec start --help`)\n"]);
    const help = (await runCli(t, ["list", "--help"])).stdout.toString();
    assert.match(help, /a HOST\s+alone means port 50051/);
  });

  test("2. a bundle that is not one: each wrong part named, nothing added", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobexec-bundle-"));
    const alice = t.configDir("alice");
    const read = (user: "alice" | "bob", file: string): Promise<string> => readFile(join(t.configDir(user), file), "utf8");
    const cases: [string, string][] = [
      [`${await read("alice", "client.pem")}${await read("bob", "client.key")}${await read("alice", "ca.pem")}`, "holds a key that is not the client certificate's"],
      [`${await read("alice", "client.pem")}${await read("alice", "client.key")}`, "holds 1 client certificate(s), 1 key(s) and 0 CA certificate(s), not one of each"],
    ];
    for (const [content, says] of cases) {
      const file = join(dir, "x.bundle.pem");
      await writeFile(file, content);
      const result = await runCli(t, ["context", "add", "x", "--server", t.address, "--bundle", file], { env: { JOBEXEC_CONFIG_DIR: dir } });
      assert.deepEqual([result.code, result.stderr], [1, `jobexec: --bundle: ${file} ${says}; a bundle is what \`jobexec-server certs issue --bundle\` writes: a client certificate, its key and the CA's certificate\n`]);
    }
    const both = await runCli(t, ["context", "add", "x", "--server", t.address, "--bundle", "b.pem", "--cert", join(alice, "client.pem")], { env: { JOBEXEC_CONFIG_DIR: dir } });
    assert.equal(both.code, 2);
    assert.equal((await runCli(t, ["context", "list", "--json"], { env: { JOBEXEC_CONFIG_DIR: dir } })).stdout.toString(), '{\n  "currentContext": null,\n  "contexts": []\n}\n');
  });

  test("7. something that is not a jobexec server on the port is called that: a service that resets, a web server", async () => {
    const resetter = createServer((socket) => socket.once("data", () => socket.resetAndDestroy()));
    resetter.listen(0, "127.0.0.1");
    await new Promise((resolve) => resetter.once("listening", resolve));
    const address = `127.0.0.1:${(resetter.address() as AddressInfo).port}`;
    try {
      const result = await runCli(t, ["list"], { server: address });
      assert.deepEqual([result.code, result.stderr], [1, `jobexec: something answered at ${address} that is not a jobexec server (or one at its --max-connections): connection reset during the TLS handshake; check the address (the address is from JOBEXEC_SERVER; set it with --server or JOBEXEC_SERVER)\n`]);
    } finally {
      resetter.close();
    }
    const web = createHttpServer((_request, response) => response.end("hello"));
    web.listen(0, "127.0.0.1");
    await new Promise((resolve) => web.once("listening", resolve));
    const webAddress = `127.0.0.1:${(web.address() as AddressInfo).port}`;
    try {
      const result = await runCli(t, ["list", "--server", webAddress]);
      assert.deepEqual([result.code, result.stderr], [1, `jobexec: something answered at ${webAddress} that is not a jobexec server: it did not answer with TLS; check the address (the address is from --server; set it with --server or JOBEXEC_SERVER)\n`]);
    } finally {
      web.close();
    }
  });
});

describe("jobexec-server for a new user", { timeout: 120_000 }, () => {
  test("2. certs issue names the three files and prints a context add line that works; the CA names its host and key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "jobexec-handover-"));
    const env = { ...process.env, JOBEXEC_CONFIG_DIR: join(dir, "ca") };
    const init = await run(process.execPath, [serverMain, "certs", "init", "--san", "jobs.example.com"], { env });
    assert.match(init.stdout, /^created CA .*ca\.pem \(jobexec CA on .+ \(key [0-9a-f]{8}\)\), server certificate/);
    const issued = await run(process.execPath, [serverMain, "certs", "issue", "--user", "dana"], { env });
    const ca = join(dir, "ca");
    assert.match(issued.stdout, new RegExp([
      `^issued user client certificate ${ca}/clients/dana\\.pem for dana`,
      "hand these three files to dana \\(the key privately: whoever holds it is dana to the server\\):",
      `  ${ca}/clients/dana\\.pem  the client certificate`,
      `  ${ca}/clients/dana\\.key  its key`,
      `  ${ca}/ca\\.pem  the CA's certificate \\(jobexec CA on .+ \\(key [0-9a-f]{8}\\)\\), with which the CLI checks the server`,
      "dana then runs, with the three files in the current directory \\(50051: the port of the server's --listen\\):",
      "  (jobexec context add jobs\\.example\\.com --server jobs\\.example\\.com:50051 --cert dana\\.pem --key dana\\.key --ca ca\\.pem && jobexec context use jobs\\.example\\.com)",
      "$",
    ].join("\n")));
    // Dana's side: the three files in a directory, the printed line run there as it is.
    const line = /^ {2}(jobexec context add .*)$/m.exec(issued.stdout)?.[1] ?? "";
    const home = join(dir, "dana");
    await mkdir(home);
    for (const file of ["clients/dana.pem", "clients/dana.key", "ca.pem"]) await copyFile(join(ca, file), join(home, file.replace("clients/", "")));
    const bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "jobexec"), `#!/bin/sh\nexec '${process.execPath}' '${cliPath}' "$@"\n`, { mode: 0o755 });
    const danaEnv = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, JOBEXEC_CONFIG_DIR: join(home, ".config") };
    const added = await run("sh", ["-c", line], { cwd: home, env: danaEnv });
    assert.equal(added.stdout, `added context "jobs.example.com" (jobs.example.com:50051); \`jobexec context use jobs.example.com\` makes it the current context\ncurrent context: jobs.example.com\n`);
    const current = await run("sh", ["-c", "jobexec context current"], { cwd: home, env: danaEnv });
    assert.match(current.stdout, new RegExp(`^context: jobs\\.example\\.com +\\(from current context\\)\\nserver: +jobs\\.example\\.com:50051 +\\(from context "jobs\\.example\\.com"\\)\\ncert: +${home}/dana\\.pem`));
  });

  test("7. the server's unknown flags get a near miss; --help lines up every flag", async () => {
    const typo = await run(process.execPath, [serverMain, "--listn", "127.0.0.1:1"]).then(() => assert.fail("accepted"), (error: { code: number; stderr: string }) => error);
    assert.deepEqual([typo.code, typo.stderr], [2, "jobexec-server: unknown flag --listn; did you mean --listen? (see jobexec-server --help)\n"]);
    const certs = await run(process.execPath, [serverMain, "certs", "issue", "--usr", "x"]).then(() => assert.fail("accepted"), (error: { code: number; stderr: string }) => error);
    assert.equal(certs.stderr, "jobexec-server: unknown flag --usr; did you mean --user? (see jobexec-server certs --help)\n");
    const help = (await run(process.execPath, [serverMain, "--help"])).stdout;
    assert.match(help, /^ {2}--max-connections-per-identity N {2}connections of one client identity\n/m);
    const columns = new Set(help.split("\n").filter((l) => l.startsWith("  --")).map((l) => /^( {2}--\S+(?: \S+)? +)/.exec(l)?.[1]?.length));
    assert.equal(columns.size, 1, "one description column");
  });
});

/** The ```sh blocks of the README section under `heading`, in order, without their indentation. */
async function readmeBlocks(heading: string): Promise<string[]> {
  const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf(`\n${heading}\n`);
  const section = readme.slice(start, readme.indexOf("\n## ", start + heading.length + 2));
  return [...section.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)].map(([, indent = "", body = ""]) =>
    body.split("\n").map((line) => line.slice(indent.length)).join("\n"));
}

/** Runs a shell snippet with bash -e; its output goes to a file, so that a server it leaves running holds no pipe. */
async function runSnippet(script: string, options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
  const log = join(options.cwd, `.snippet-${randomBytes(4).toString("hex")}.log`);
  const file = await open(log, "w");
  try {
    const child = spawn("bash", ["-e", "-c", script], { cwd: options.cwd, env: options.env, stdio: ["ignore", file.fd, file.fd] });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (c) => resolve(c));
    });
    return { code, output: await readFile(log, "utf8") };
  } finally {
    await file.close();
    await rm(log, { force: true });
  }
}

describe("the README's own server and more users, run as written", { timeout: 180_000 }, () => {
  test("6 and 2. certificates, --listen, --data-dir, --cgroup-parent, a job, certs issue for dana and erin (--bundle), their contexts, stopping it", async () => {
    const blocks = await readmeBlocks("## Running your own server");
    const find = (text: string): string => {
      const block = blocks.find((b) => b.includes(text));
      assert.ok(block !== undefined, `a README block with ${text}`);
      return block;
    };
    // The README's names, made unique: a test must not take the port, data directory or cgroup parent it tells
    // people to use, nor collide with another run.
    const unique = `jobexec-b-${randomBytes(4).toString("hex")}`;
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const adapt = (block: string): string => block.replaceAll("jobexec-b", unique).replaceAll("50061", String(port));
    const dir = await mkdtemp(join(tmpdir(), "jobexec-readme-"));
    const bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "jobexec"), `#!/bin/sh\nexec '${process.execPath}' '${cliPath}' "$@"\n`, { mode: 0o755 });
    await writeFile(join(bin, "jobexec-server"), `#!/bin/sh\nexec '${process.execPath}' '${serverMain}' "$@"\n`, { mode: 0o755 });
    const home = (who: string): NodeJS.ProcessEnv => {
      const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith("JOBEXEC_") && name !== "FORCE_COLOR");
      return { ...Object.fromEntries(inherited), HOME: join(dir, who), PATH: `${bin}:${process.env.PATH ?? ""}`, NO_COLOR: "1" };
    };
    for (const who of ["admin", "dana", "erin"]) await mkdir(join(dir, who));
    const admin = { cwd: join(dir, "admin"), env: home("admin") };
    const configDir = join(dir, "admin", unique);
    // The admin's blocks follow one another in one shell: what the first exports holds for the others.
    const session = (block: string): string => `${adapt(blocks[0] ?? "").split("\n").filter((line) => line.startsWith("export ")).join("\n")}\n${adapt(block)}`;
    try {
      const started = await runSnippet(adapt(blocks[0] ?? ""), admin);
      assert.equal(started.code, 0, started.output);
      assert.match(started.output, /^created CA .* \(jobexec CA on .+ \(key [0-9a-f]{8}\)\), server certificate .*\nhello\n$/);
      const issued = await runSnippet(session(find("certs issue --user dana")), admin);
      assert.equal(issued.code, 0, issued.output);
      assert.match(issued.output, /\nhand these three files to dana /);
      for (const [from, to] of [["clients/dana.pem", "dana.pem"], ["clients/dana.key", "dana.key"], ["ca.pem", "ca.pem"]]) {
        await copyFile(join(configDir, from as string), join(dir, "dana", to as string));
      }
      const dana = await runSnippet(adapt(find("hello from dana")), { cwd: join(dir, "dana"), env: home("dana") });
      assert.equal(dana.code, 0, dana.output);
      assert.match(dana.output, /^added context "b" \(127\.0\.0\.1:\d+\); .*\ncurrent context: b\nhello from dana\n$/);
      const bundled = await runSnippet(session(find("certs issue --user erin --bundle")), admin);
      assert.equal(bundled.code, 0, bundled.output);
      assert.match(bundled.output, /\nhand this one file to erin, privately /);
      await copyFile(join(configDir, "clients", "erin.bundle.pem"), join(dir, "erin", "erin.bundle.pem"));
      const erin = await runSnippet(adapt(find("hello from erin")), { cwd: join(dir, "erin"), env: home("erin") });
      assert.equal(erin.code, 0, erin.output);
      assert.match(erin.output, /\ncurrent context: b\nhello from erin\n$/);
    } finally {
      const pid = Number(await readFile(join(configDir, "server.pid"), "utf8").catch(() => "0"));
      const stopped = await runSnippet(session(find('kill "$(cat')), admin);
      assert.equal(stopped.code, 0, stopped.output);
      assert.ok(await eventually(() => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, 30_000), "the server exits on SIGTERM");
      const log = await readFile(join(configDir, "server.log"), "utf8");
      assert.match(log, new RegExp(`"msg":"listening","address":"127\\.0\\.0\\.1:${port}"`), "its log went where the README says");
      assert.match(log, /"msg":"signal received","signal":"SIGTERM"/);
      await rm(dir, { recursive: true, force: true });
      await rm(`/var/lib/${unique}`, { recursive: true, force: true });
      for (const root of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) await rmdir(join(root, unique)).catch(() => undefined);
    }
  });
});
