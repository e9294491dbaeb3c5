// StartJob's isolation end to end: a real server, real gRPC clients, real isolated jobs on this host.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { JobState } from "@jobexec/proto";
import { failure, readOutput, startTestServer, type TestServer } from "./test-support/test-harness.ts";

// Interfaces the job sees: its network namespace's, from /proc/net/dev.
const interfaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";

describe("StartJob isolation", { timeout: 120_000 }, () => {
  let t: TestServer;
  before(async () => {
    // The server's default: network none; homes outside /tmp, which a private /tmp hides.
    t = await startTestServer({ base: "/var/lib", defaultIsolation: { privateNetwork: true } });
  });
  after(() => t.close());

  test("an unset field takes the server's default; the Job shows every field as the job got it", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", interfaces] });
    assert.deepEqual({ ...job?.isolation, $typeName: undefined }, { $typeName: undefined, privateNetwork: true, privateTmp: false, privateTmpBytes: 0n, readOnlySystem: false });
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.equal(out.stdout.toString(), "lo\n");
    assert.equal(out.job?.state, JobState.EXITED);
  });

  test("a request asks for more, or turns the default off", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({
      program: "/bin/sh",
      args: ["-c", `${interfaces}; df -k /tmp | tail -1 | tr -s ' ' | cut -d' ' -f2; echo x > /etc/jobexec-test-never 2>&1 | tail -c 24 >&2`],
      isolation: { privateTmp: true, privateTmpBytes: 4n * 1024n * 1024n, readOnlySystem: true },
    });
    assert.equal(job?.isolation?.privateTmpBytes, 4n * 1024n * 1024n);
    const out = await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
    assert.equal(out.stdout.toString(), "lo\n4096\n");
    assert.match(out.stderr.toString(), /(Read-only file system|Permission denied)\n$/);
    const { job: open } = await alice.startJob({ program: "/bin/sh", args: ["-c", interfaces], isolation: { privateNetwork: false } });
    assert.equal(open?.isolation?.privateNetwork, false);
    const seen = await readOutput(alice.streamOutput({ id: open?.id ?? "", follow: true }));
    assert.notEqual(seen.stdout.toString(), "lo\n");
  });

  test("bad isolation fields are INVALID_ARGUMENT with a sentence; the server keeps serving", async () => {
    const alice = t.jobs(t.pki.alice);
    const zero = await failure(alice.startJob({ program: "true", isolation: { privateTmp: true, privateTmpBytes: 0n } }));
    assert.equal(zero.code, Code.InvalidArgument);
    assert.match(zero.rawMessage, /^isolation.private_tmp_bytes must be a positive integer up to 2\^53-1, not 0$/);
    const noTmp = await failure(alice.startJob({ program: "true", isolation: { privateTmpBytes: 1024n } }));
    assert.equal(noTmp.code, Code.InvalidArgument);
    assert.equal(noTmp.rawMessage, "isolation.privateTmpBytes needs isolation.privateTmp");
    const hidden = await failure(alice.startJob({ program: "true", workingDirectory: "/var/tmp", isolation: { privateTmp: true } }));
    assert.equal(hidden.code, Code.InvalidArgument);
    assert.match(hidden.rawMessage, /^cwd "\/var\/tmp" is under \/var\/tmp, which a private \/tmp hides from the job$/);
    const { job } = await alice.startJob({ program: "true" });
    assert.equal(job?.state, JobState.RUNNING);
  });
});
