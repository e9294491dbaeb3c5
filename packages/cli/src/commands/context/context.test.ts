import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { jsonOf, runCli, startCliServer, type CliServer, type SpawnOptions } from "../../testing/cli-fixture.ts";

// Where nothing listens: a context or a setting pointing here fails with "connection refused", naming the address.
const nowhere = "127.0.0.1:9";
const otherNowhere = "127.0.0.1:7";

describe("contexts", { timeout: 300_000 }, () => {
  let t: CliServer;
  let dir: string;
  // A config directory of its own, with no default credentials: settings come from contexts, flags or variables.
  const opts = (env: Record<string, string> = {}, server: string | null = null): SpawnOptions => ({ server, env: { JOBEXEC_CONFIG_DIR: dir, ...env } });
  const creds = (user: "alice" | "bob") => ["--cert", join(t.configDir(user), "client.pem"), "--key", join(t.configDir(user), "client.key"), "--ca", join(t.configDir(user), "ca.pem")];
  const owner = async (extra: string[], o: SpawnOptions) => {
    const started = await runCli(t, ["start", "--json", ...extra, "--", "true"], o);
    return jsonOf<{ owner: string }>(started).owner;
  };

  before(async () => {
    t = await startCliServer();
  });
  after(() => t.close());

  test("add, use, list, remove: the file is 0600 JSON, the current context is marked", async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-contexts-"));
    const empty = await runCli(t, ["context", "list"], opts());
    assert.equal(empty.code, 0);
    assert.match(empty.stderr, /^no contexts in .*contexts\.json; add one with `jobexec context add NAME --server HOST:PORT`\n$/);

    const added = await runCli(t, ["context", "add", "here", "--server", t.address, ...creds("alice")], opts());
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout.toString(), /^added context "here" \(127\.0\.0\.1:\d+\); `jobexec context use here` makes it the current context\n$/);
    assert.equal((await runCli(t, ["context", "add", "away", "--server", nowhere], opts())).code, 0);
    const again = await runCli(t, ["context", "add", "away", "--server", nowhere], opts());
    assert.equal(again.code, 2);
    assert.equal(again.stderr, 'jobexec: context "away" already exists; use --force to replace it\n');

    assert.equal((await runCli(t, ["context", "use", "here"], opts())).stdout.toString(), "current context: here\n");
    const path = join(dir, "contexts.json");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(path, "utf8")) as { currentContext: string; contexts: { name: string; server: string; cert?: string }[] };
    assert.equal(stored.currentContext, "here");
    assert.deepEqual(stored.contexts.map((c) => [c.name, c.server]), [["here", t.address], ["away", nowhere]]);
    assert.equal(stored.contexts[0]?.cert, join(t.configDir("alice"), "client.pem"));

    const table = (await runCli(t, ["context", "list"], opts())).stdout.toString().split("\n");
    assert.match(table[0] ?? "", /^CURRENT +NAME +SERVER +CERT +KEY +CA$/);
    assert.match(table[1] ?? "", new RegExp(`^\\* +here +${t.address.replace(/\./g, "\\.")} +/`));
    assert.match(table[2] ?? "", /^ +away +127\.0\.0\.1:9 +\(default\) +\(default\) +\(default\)$/);
    const json = jsonOf<{ currentContext: string; contexts: { name: string; current: boolean; cert: string | null }[] }>(await runCli(t, ["context", "list", "--json"], opts()));
    assert.equal(json.currentContext, "here");
    assert.deepEqual(json.contexts.map((c) => [c.name, c.current]), [["here", true], ["away", false]]);
    assert.equal(json.contexts[1]?.cert, null);

    // The current context is used with no flag at all.
    assert.equal(await owner([], opts()), "alice");

    const unknown = await runCli(t, ["context", "use", "nope"], opts());
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, 'jobexec: no context "nope"; `jobexec context list` shows the contexts\n');
    const removed = await runCli(t, ["context", "remove", "here"], opts());
    assert.equal(removed.stdout.toString(), 'removed context "here"\nno current context now: the flags, environment variables and defaults apply\n');
    const after = JSON.parse(await readFile(path, "utf8")) as { currentContext?: string; contexts: { name: string }[] };
    assert.equal(after.currentContext, undefined);
    assert.deepEqual(after.contexts.map((c) => c.name), ["away"]);
    assert.equal((await runCli(t, ["context", "rm", "away"], opts())).code, 0);
  });

  test("precedence: flag > environment > context > defaults, for the server, the credentials and the context itself", async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-contexts-"));
    for (const args of [["good", "--server", t.address, ...creds("alice")], ["bad", "--server", nowhere, ...creds("alice")], ["bob", "--server", t.address, ...creds("bob")]]) {
      assert.equal((await runCli(t, ["context", "add", ...args], opts())).code, 0);
    }
    await runCli(t, ["context", "use", "bad"], opts());
    const refused = await runCli(t, ["list"], opts());
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^jobexec: cannot reach jobexec-server at 127\.0\.0\.1:9 \(context bad\): connection refused/);
    // The environment beats the context; the flag beats the environment.
    assert.equal((await runCli(t, ["list"], opts({}, t.address))).code, 0);
    assert.equal((await runCli(t, ["list", "--server", t.address], opts({}, otherNowhere))).code, 0);
    assert.match((await runCli(t, ["list"], opts({}, otherNowhere))).stderr, /at 127\.0\.0\.1:7: connection refused/);
    // --context and JOBEXEC_CONTEXT beat the current context; --context beats JOBEXEC_CONTEXT.
    assert.equal((await runCli(t, ["list", "--context", "good"], opts())).code, 0);
    assert.equal((await runCli(t, ["list"], opts({ JOBEXEC_CONTEXT: "good" }))).code, 0);
    assert.match((await runCli(t, ["list", "--context", "bad"], opts({ JOBEXEC_CONTEXT: "good" }))).stderr, /at 127\.0\.0\.1:9 \(context bad\)/);
    // "default" is no context at all: the built-in server and the config directory's (here missing) credentials.
    assert.match((await runCli(t, ["list", "--context", "default"], opts())).stderr, /^jobexec: client certificate file .*client\.pem does not exist; get a client certificate and key from the server's administrator/);
    // Credentials: the context's identity, unless flags give others.
    assert.equal(await owner(["--context", "bob"], opts()), "bob");
    assert.equal(await owner(["--context", "bob", ...creds("alice")], opts()), "alice");
    assert.equal(await owner([], opts({ JOBEXEC_CONTEXT: "bob", JOBEXEC_CERT: join(t.configDir("alice"), "client.pem"), JOBEXEC_KEY: join(t.configDir("alice"), "client.key") })), "alice");
  });

  test("a missing or malformed contexts file, or an unknown context: one clear sentence, nothing sent", async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-contexts-"));
    const missing = await runCli(t, ["status", "--context", "prod", "0ecc1839-4cb3-4388-87aa-04ed992c5234"], opts());
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'jobexec: no context "prod" (named by --context or JOBEXEC_CONTEXT); `jobexec context list` shows the contexts\n');
    // Without a contexts file and no context named, the flags and variables work as they always did.
    assert.equal((await runCli(t, ["list", "--server", t.address, ...creds("alice")], opts())).code, 0);

    const path = join(dir, "contexts.json");
    for (const [content, says] of [
      ["{ not json", /is malformed: .*JSON/],
      ['{"contexts": {}}', /is malformed: "contexts" is not a list/],
      ['{"contexts": [{"name": "a"}]}', /is malformed: context "a" has no "server"/],
      ['{"currentContext": 3, "contexts": []}', /is malformed: "currentContext" is not a string/],
    ] as const) {
      await writeFile(path, content);
      const result = await runCli(t, ["list", "--server", t.address, ...creds("alice")], opts());
      assert.equal(result.code, 1, content);
      assert.equal(result.stderr.split("\n").length, 2, `one line: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^jobexec: the contexts file ${path.replace(/[.]/g, "\\.")} ${says.source}.*; fix it, or remove it and add the contexts again with \`jobexec context add\`\\n$`));
    }
    await writeFile(path, JSON.stringify({ currentContext: "gone", contexts: [] }));
    const dangling = await runCli(t, ["list"], opts());
    assert.equal(dangling.code, 2);
    assert.match(dangling.stderr, /^jobexec: no context "gone" \(named by the current context in .*contexts\.json\)/);

    await rm(path);
    const gone = join(dir, "gone.pem");
    await writeFile(gone, "x");
    assert.equal((await runCli(t, ["context", "add", "x", "--server", t.address, "--cert", gone], opts())).code, 0);
    await rm(gone);
    const stale = await runCli(t, ["list", "--context", "x"], opts());
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /client certificate file .*gone\.pem does not exist; it is the cert of context "x" \(`jobexec context list`\)/);
    const bad = await runCli(t, ["context", "add", "y", "--server", "http://nope"], opts());
    assert.equal(bad.code, 2);
    const unreadable = await runCli(t, ["context", "add", "y", "--server", t.address, "--key", join(dir, "missing.key")], opts());
    assert.equal(unreadable.code, 1);
    assert.match(unreadable.stderr, /--key: client key file .*missing\.key is not readable \(ENOENT\)/);
  });
});
