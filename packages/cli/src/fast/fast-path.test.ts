// The fast path (dist/fast.cjs) against oclif (forced with JOBEXEC_NO_FAST_PATH=1): for the command lines of the CLI's
// tests, the same stdout, stderr and exit code from a real server; and which command lines the fast path takes.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { runCli, startCliServer, startedId, type CliResult, type CliServer } from "../testing/cli-fixture.ts";
import type { plan as Plan } from "./main.ts";

const { plan } = createRequire(import.meta.url)("../../dist/fast.cjs") as { plan: typeof Plan };
const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** A run's output with new job ids (of `start`) made comparable. */
function comparable(result: CliResult): [number | null, string, string] {
  return [result.code, result.stdout.toString().replace(uuid, "ID"), result.stderr.replace(uuid, "ID")];
}

describe("the fast path", { timeout: 300_000 }, () => {
  let t: CliServer;
  let ended: string;
  let failed: string;
  before(async () => {
    t = await startCliServer();
    ended = startedId(await runCli(t, ["start", "--", "sh", "-c", "echo out; echo err >&2; echo two"]));
    failed = startedId(await runCli(t, ["start", "--", "sh", "-c", "exit 3"]));
    assert.equal((await runCli(t, ["wait", ended, failed])).code, 3);
  });
  after(() => t.close());

  // [words, whether the fast path runs them]; "E" is the ended job, "F" the failed one.
  const cases: [string[], boolean][] = [
    [["status", "E"], true],
    [["status", "--json", "E"], true],
    [["status", "E", "--timeline"], true],
    [["status", "F"], true],
    [["status", "nope"], true],
    [["status", "00000000-0000-4000-8000-000000000000"], true],
    [["status", "E", "--server", "127.0.0.1:1"], true],
    [["status", "E", "--server=localhost"], true],
    [["status", "E", "--ca", "/nonexistent/ca.pem"], true],
    [["status", "E", "--context", "missing"], true],
    [["status"], false],
    [["status", "E", "F"], false],
    [["status", "--bogus", "E"], false],
    [["status", "E", "--help"], false],
    [["status", "E", "--server"], false],
    [["list"], true],
    [["list", "-q"], true],
    [["list", "--quiet", "--state", "exited"], true],
    [["list", "--state", "exited", "--state", "failed", "--json"], true],
    [["list", "--limit", "1"], true],
    [["list", "--json", "-q"], true],
    [["list", "--all"], true],
    [["list", "--owner", "bob"], true],
    [["list", "--limit", "0"], false],
    [["list", "--limit", "x"], false],
    [["list", "--state", "bogus"], false],
    [["list", "-qj"], false],
    [["list", "--json=true"], false],
    [["logs", "E"], true],
    [["logs", "--stream", "stdout", "E"], true],
    [["logs", "--stream=stderr", "E"], true],
    [["logs", "--tail", "1", "E"], true],
    [["logs", "-f", "E"], true],
    [["logs", "--tail", "x", "E"], true],
    [["logs", "--stream", "all", "E"], false],
    [["stop", "E"], true],
    [["stop", "--json", "E"], true],
    [["stop", "--grace", "5", "E"], true],
    [["wait", "E"], true],
    [["wait", "E", "F"], true],
    [["wait", "--json", "E"], true],
    [["wait", "--timeout", "10s", "F"], true],
    [["wait"], true],
    [["rm", "00000000-0000-4000-8000-000000000000"], true],
    [["rm", "nope"], true],
    [["start", "--", "true"], true],
    [["start", "-f", "--", "sh", "-c", "echo hi; exit 4"], true],
    [["start", "--memory", "lots", "--", "true"], true],
    [["start", "--env", "NOPE_NOT_SET", "--", "true"], true],
    [["start", "--json", "-f", "--", "true"], true],
    [["start", "--no-read-only", "--private-tmp", "--", "true"], true],
    [["start", "stray", "--", "true"], true],
    [["start", "--at", "12:00", "--delay", "1m", "--", "true"], false],
    [["start", "--cpu"], false],
    [["start", "--", "--help"], true],
    [["statuz", "E"], false],
    [["queue"], false],
    [["--help"], false],
    [["--version"], false],
    [[], false],
  ];
  for (const [words, fast] of cases) {
    const name = words.join(" ") || "(nothing)";
    test(`${name}: ${fast ? "fast path" : "oclif"}, the same output either way`, async () => {
      const argv = words.map((word) => (word === "E" ? ended : word === "F" ? failed : word));
      assert.equal(plan(argv, {}) !== undefined, fast);
      assert.equal(plan(argv, { JOBEXEC_NO_FAST_PATH: "1" }), undefined);
      const [viaFast, viaOclif] = await Promise.all([runCli(t, argv), runCli(t, argv, { env: { JOBEXEC_NO_FAST_PATH: "1" } })]);
      assert.deepEqual(comparable(viaFast), comparable(viaOclif));
    });
  }

  test("connection settings from the environment reach the fast path as they reach oclif", async () => {
    const env = { JOBEXEC_SERVER: "127.0.0.1:1" };
    assert.notEqual(plan(["status", ended], env), undefined);
    const [viaFast, viaOclif] = await Promise.all([runCli(t, ["status", ended], { env }), runCli(t, ["status", ended], { env: { ...env, JOBEXEC_NO_FAST_PATH: "1" } })]);
    assert.equal(viaFast.code, 1);
    assert.deepEqual(comparable(viaFast), comparable(viaOclif));
  });
});
