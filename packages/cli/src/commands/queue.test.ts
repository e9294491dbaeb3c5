import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonOf, runCli, spawnCli, collectCli, startCliServer, startedId, eventually, type CliServer } from "../testing/cli-fixture.ts";

// The queue from the command line: a real server in this process that runs one job at a time, the CLI as a subprocess.
describe("queue commands", { timeout: 300_000 }, () => {
  let t: CliServer;
  before(async () => {
    t = await startCliServer({ standby: 0, queue: { maxRunning: 1 } });
  });
  after(() => t.close());

  const start = async (...args: string[]) => startedId(await runCli(t, ["start", ...args]));
  const state = async (id: string) => String(jsonOf(await runCli(t, ["status", "--json", id])).state);

  test("wait: the job's exit code or 128 + signal; documented codes for stopped, cancelled, failed dependency; several jobs; --timeout", async () => {
    const blocker = await start("--", "sleep", "1000");
    const three = await start("--", "sh", "-c", "exit 3");
    const killed = await start("--", "sh", "-c", "kill -9 $$");
    const cancelled = await start("--", "true");
    const dependent = await start("--after", three, "--", "true");
    const ok = await start("--after", `${three}:any`, "--", "true");
    const timedOut = await runCli(t, ["wait", "--timeout", "200ms", three]);
    assert.equal(timedOut.code, 124);
    assert.match(timedOut.stderr, new RegExp(`--timeout passed; still not ended: ${three}`));
    assert.equal((await runCli(t, ["stop", cancelled])).code, 0);
    assert.equal((await runCli(t, ["wait", cancelled])).code, 127, "cancelled while queued");
    // Waits started before the jobs run; the blocker's stop lets the queue drain.
    const waits = [three, killed, dependent, ok].map((id) => collectCli(spawnCli(t, ["wait", id])));
    const all = collectCli(spawnCli(t, ["wait", ok, three]));
    assert.equal((await runCli(t, ["stop", "--grace", "0", blocker])).code, 0);
    assert.deepEqual((await Promise.all(waits)).map((r) => r.code), [3, 128 + 9, 123, 0]);
    assert.equal((await all).code, 3, "several: the first that did not succeed");
    assert.equal((await runCli(t, ["wait", blocker])).code, 126, "stopped");
    assert.equal((await runCli(t, ["wait", "--json", ok])).stdout.toString().includes(`"id": "${ok}"`), true);
  });

  test("start --priority, --delay, --now; list --state queued with position and reason; status's Queued line; start -f of a queued job", async () => {
    const blocker = await start("--", "sleep", "1000");
    const low = await start("--", "true");
    const high = await start("--priority", "5", "--", "true");
    const later = await start("--delay", "1h", "--", "true");
    const refused = await runCli(t, ["start", "--now", "--", "true"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot start now \(host: 1 jobs running \(--max-running\)\) and its request asks not to queue/);
    const bad = await runCli(t, ["start", "--after", "nope:sometimes", "--", "true"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--after: "nope:sometimes" is not ID\[:ok\|any\|failed\]/);
    const list = (await runCli(t, ["list", "--state", "queued"])).stdout.toString();
    assert.match(list, new RegExp(`${high} +alice +queued +#1: host: 1 jobs running \\(--max-running\\)`));
    assert.match(list, new RegExp(`${low} +alice +queued +#2: `));
    assert.match(list, new RegExp(`${later} +alice +queued +#3: not before `));
    const status = (await runCli(t, ["status", high])).stdout.toString();
    assert.match(status, /^ +Queued: #1 of alice's queued, waits for: host: 1 jobs running \(--max-running\)$/m);
    const followed = collectCli(spawnCli(t, ["start", "-f", "--", "echo", "followed"]));
    await eventually(async () => (await runCli(t, ["list", "--state", "queued", "--json"])).stdout.toString().split('"id"').length === 5);
    await runCli(t, ["stop", "--grace", "0", blocker]);
    const done = await followed;
    assert.equal(done.code, 0);
    assert.equal(done.stdout.toString(), "followed\n");
    assert.match(done.stderr, /^jobexec: job [0-9a-f-]{36} is queued \(#\d of alice's queued, waits for: .*\); following it once it runs\n$/);
    const summary = (await runCli(t, ["queue"])).stdout.toString();
    assert.match(summary, /^OWNER +RUNNING +QUEUED +HELD +MEMORY +CPUS +WEIGHT +NEXT WAITS FOR\nalice +\d +\d +1 +0 B +0 +1 */);
    assert.match(summary, /\nHost: \d of 1 running, \d queued \(1 held\); memory 0 B of [\d.]+ [KMGT]iB reserved, CPUs 0 of \d+; at most 64 running per user \(admins 1024\)\n$/);
    const json = jsonOf<{ owners: { owner: string; held: number }[]; host: { maxRunning: number | null; held: number } }>(await runCli(t, ["queue", "--json"]));
    assert.deepEqual(json.owners.map((o) => [o.owner, o.held]), [["alice", 1]], "the delayed job still waits");
    assert.deepEqual([json.host.maxRunning, json.host.held], [1, 1]);
    await runCli(t, ["stop", later]);
    assert.equal(await state(later), "stopped");
  });

  test("queue: your line and the host's; an admin's --all and --owner; a user's --all refused in the flags' words", async () => {
    const blocker = await start("--", "sleep", "1000");
    const queued = await start("--", "true");
    const bobs = startedId(await runCli(t, ["start", "--", "true"], { user: "bob" }));
    const own = (await runCli(t, ["queue"], { user: "bob" })).stdout.toString();
    assert.match(own, /^OWNER .*\nbob +0 +1 +0 +0 B +0 +1 +host: 1 jobs running \(--max-running\)\nHost: 1 of 1 running, 2 queued \(0 held\);/);
    const all = (await runCli(t, ["queue", "--all"], { user: "admin" })).stdout.toString();
    assert.match(all, /\nalice +1 +1 +0 .*\nbob +0 +1 +0 /);
    const one = jsonOf<{ owners: unknown[] }>(await runCli(t, ["queue", "--owner", "alice", "--json"], { user: "admin" }));
    assert.deepEqual(one.owners, [{ owner: "alice", running: 1, queued: 1, held: 0, memoryReservedBytes: 0, cpuReserved: 0, weight: 1, next: "host: 1 jobs running (--max-running)" }]);
    const none = await runCli(t, ["queue"], { user: "admin" });
    assert.deepEqual([none.code, none.stderr], [0, "no running or queued jobs\n"]);
    assert.match(none.stdout.toString(), /^Host: 1 of 1 running, 2 queued \(0 held\);/);
    const refused = await runCli(t, ["queue", "--all"], { user: "bob" });
    assert.deepEqual([refused.code, refused.stderr], [1, "jobexec: permission denied: only admins may see other users' queue lines (--all, --owner); without them, queue shows your own\n"]);
    for (const id of [queued, bobs, blocker]) await runCli(t, ["stop", "--grace", "0", id], { user: id === bobs ? "bob" : "alice" });
  });

  test("wait rides out a restart of the server: it reconnects and resumes", async () => {
    const blocker = await start("--", "sleep", "1000");
    const queued = await start("--", "sh", "-c", "exit 5");
    const waiting = collectCli(spawnCli(t, ["wait", queued]));
    // The wait is watching before the restart.
    assert.ok(await eventually(() => t.server.manager.watchers === 1, 60_000));
    await t.restart();
    assert.equal(await state(blocker), "stopped");
    const result = await waiting;
    assert.equal(result.code, 5);
    assert.match(result.stderr, /lost the server .*; reconnecting\njobexec: reconnected\n$/);
  });
});
