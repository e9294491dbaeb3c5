import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { bytesPattern, jobNode, slowPath } from "@jobexec/testing-slow";
import { collectCli, eventually, openFds, runCli, spawnCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

// Writes every byte value 0..255 to stdout and the same reversed to stderr, no trailing newline.
const allBytes = "const b = Buffer.from(Array.from({ length: 256 }, (_, i) => i)); process.stdout.write(b); process.stderr.write(b.reverse());";
const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe("jobexec logs", { timeout: 300_000 }, () => {
  let t: CliServer;
  let binary: string;
  before(async () => {
    t = await startCliServer();
    binary = startedId(await runCli(t, ["start", "--", jobNode, "-e", allBytes]));
    // Wait for the end, so plain `logs` sees everything.
    assert.equal((await runCli(t, ["logs", "-f", "--stream", "stdout", binary])).code, 0);
  });
  after(() => t.close());

  test("binary output comes back byte for byte: all 256 values, nothing added", async () => {
    const both = await runCli(t, ["logs", binary]);
    assert.equal(both.code, 0);
    assert.deepEqual(both.stdout, every);
    assert.deepEqual(Buffer.from(both.stderr, "latin1").length, 256);
    const stdout = await runCli(t, ["logs", "--stream", "stdout", binary]);
    assert.deepEqual([stdout.stdout, stdout.stderr], [every, ""]);
  });

  test("--stream stderr prints only stderr, exactly", async () => {
    const child = spawnCli(t, ["logs", "--stream", "stderr", binary]);
    const stderr: Buffer[] = [];
    child.stderr?.on("data", (b: Buffer) => stderr.push(b));
    const result = await collectCli(child);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, 0);
    assert.deepEqual(Buffer.concat(stderr), Buffer.from(every).reverse());
  });

  test("--tail N starts each stream at its last N lines", async () => {
    const id = startedId(await runCli(t, ["start", "--", "seq", "1", "1000"]));
    const tail = await runCli(t, ["logs", "-f", "--tail", "3", id]);
    assert.equal(tail.code, 0);
    assert.equal(tail.stdout.toString(), "998\n999\n1000\n");
  });

  test("5 MB of output arrives complete, and the copy rate is printed", async (ctx) => {
    const size = 5_000_000;
    const id = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "--bytes", String(size)]));
    const started = performance.now();
    const result = await runCli(t, ["logs", "-f", id]);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, size);
    assert.ok(result.stdout.subarray(0, 64).equals(Buffer.from(bytesPattern)));
    assert.ok(result.stdout.subarray(size - 64 - (size % 64), size - (size % 64)).equals(Buffer.from(bytesPattern)));
    ctx.diagnostic(`logs -f of ${size} bytes: ${seconds.toFixed(2)} s wall including CLI start-up (${(size / 1e6 / seconds).toFixed(1)} MB/s)`);

    // A reader that goes away early (`jobexec logs ID | head -c 100`): jobexec stops quietly, exit 0.
    const child = spawnCli(t, ["logs", id]);
    const done = collectCli(child);
    await once(child.stdout ?? child, "data");
    child.stdout?.destroy();
    const cut = await done;
    assert.deepEqual([cut.code, cut.stderr], [0, ""]);
  });

  test("-f on a running job prints output live and ends when the job ends", async () => {
    const id = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "4", "--interval", "200"]));
    const result = await runCli(t, ["logs", "-f", id]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.toString(), "line 1\nline 3\nexited 0\n");
    assert.equal(result.stderr, "line 2\nline 4\n");
  });

  test("Ctrl-C during logs -f exits 130 quietly; the server releases the stream; the job keeps running", async () => {
    // libuv opens one inotify fd per process on the first watch and keeps it: have it opened before the baseline.
    assert.equal((await runCli(t, ["start", "-f", "--", jobNode, slowPath, "2", "--interval", "100"])).code, 0);
    const id = startedId(await runCli(t, ["start", "--", jobNode, slowPath, "600", "--interval", "50"]));
    // The standby that start took is replaced first: its pipes would count as the follower's.
    assert.ok(await eventually(() => t.server.manager.standbys.idle === t.server.manager.standbys.target && t.server.manager.standbys.starting === 0));
    const baseline = openFds();
    const child = spawnCli(t, ["logs", "-f", "--stream", "stdout", id]);
    const done = collectCli(child);
    await once(child.stdout ?? child, "data");
    assert.ok(openFds() > baseline, "the follower holds server-side resources while it streams");
    child.kill("SIGINT");
    const result = await done;
    try {
      assert.equal(result.code, 130);
      assert.equal(result.stderr, "");
      // The connection's socket and the job's output file the server read from are closed again.
      assert.ok(await eventually(() => openFds() <= baseline), `server fds back to ${baseline}, now ${openFds()}`);
      const status = await runCli(t, ["status", "--json", id]);
      assert.equal(JSON.parse(status.stdout.toString()).state, "running");
    } finally {
      await runCli(t, ["stop", "--grace", "0", id]);
    }
  });

  test("Ctrl-C during start -f exits 130, names the job, and leaves it running", async () => {
    const child = spawnCli(t, ["start", "-f", "--", jobNode, slowPath, "600", "--interval", "50", "--first-line"]);
    const done = collectCli(child);
    await once(child.stdout ?? child, "data");
    child.kill("SIGINT");
    const result = await done;
    const running = (await t.server.manager.list({ states: ["running"] })).filter((job) => job.args.includes("--first-line"));
    try {
      assert.equal(result.code, 130);
      assert.equal(running.length, 1);
      const id = running[0]?.id ?? "";
      assert.equal(result.stderr, `jobexec: stopped following job ${id}; it keeps running (\`jobexec stop ${id}\` stops it)\n`);
    } finally {
      await Promise.all(running.map((job) => runCli(t, ["stop", "--grace", "0", job.id])));
    }
  });

  test("bad flags exit 2 before any request", async () => {
    const cases: [string[], RegExp][] = [
      [["logs", "--tail", "x", binary], /--tail: "x" is not a positive whole number/],
      [["logs", "--stream", "stdin", binary], /--stream: "stdin" is not one of stdout, stderr, both/],
      [["logs"], /logs needs the job id: jobexec logs ID/],
    ];
    await Promise.all(cases.map(async ([args, message]) => {
      const result = await runCli(t, args, { server: "127.0.0.1:1" });
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, /^jobexec: [^\n]+\n$/);
      assert.match(result.stderr, message);
    }));
  });
});
