// jobexec start's isolation flags against a real server: what status shows, what the job sees, bad values.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jsonOf, runCli, startCliServer, startedId, type CliServer } from "../testing/cli-fixture.ts";

const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";

describe("jobexec start --network none --private-tmp --read-only", { timeout: 300_000 }, () => {
  let t: CliServer;
  before(async () => {
    // Homes outside /tmp (a private /tmp hides it); the server's default is a read-only system.
    t = await startCliServer({ base: "/var/lib", defaultIsolation: { readOnlySystem: true } });
  });
  after(() => t.close());

  test("the flags reach the job, and status shows them", async () => {
    const run = await runCli(t, ["start", "--follow", "--network", "none", "--private-tmp-size", "8M", "--", "sh", "-c", `${interfaces}; df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2`]);
    assert.equal(run.code, 0, run.stderr.toString());
    assert.equal(run.stdout.toString(), "lo\n8192\n");
    const id = startedId(await runCli(t, ["start", "--network", "none", "--private-tmp", "--", "true"]));
    const status = await runCli(t, ["status", id]);
    assert.match(status.stdout.toString(), /\n +Isolation: network none, private \/tmp \(64(\.0)? MiB\), read-only system\n/);
    const json = jsonOf(await runCli(t, ["status", "--json", id]));
    assert.deepEqual(json.isolation, { privateNetwork: true, privateTmp: true, privateTmpBytes: 64 * 1024 * 1024, readOnlySystem: true });
  });

  test("--no-read-only and --network host turn the server's default off; nothing asked shows none", async () => {
    const id = startedId(await runCli(t, ["start", "--no-read-only", "--network", "host", "--", "true"]));
    const status = await runCli(t, ["status", id]);
    assert.match(status.stdout.toString(), /\n +Isolation: none\n/);
    const plain = startedId(await runCli(t, ["start", "--", "true"]));
    assert.match((await runCli(t, ["status", plain])).stdout.toString(), /\n +Isolation: read-only system\n/);
  });

  test("bad values are usage errors, and --help lists the flags", async () => {
    const bad = await runCli(t, ["start", "--network", "bridge", "--", "true"]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr.toString(), /--network: "bridge" is not none \(a network of the job's own, only lo\) or host/);
    const size = await runCli(t, ["start", "--private-tmp-size", "lots", "--", "true"]);
    assert.notEqual(size.code, 0);
    assert.match(size.stderr.toString(), /--private-tmp-size/);
    const help = (await runCli(t, ["start", "--help"])).stdout.toString();
    assert.match(help, /ISOLATION FLAGS/);
    for (const flag of ["--network=<value>", "--\\[no-\\]private-tmp", "--private-tmp-size=<value>", "--\\[no-\\]read-only"]) assert.match(help, new RegExp(flag));
  });
});
