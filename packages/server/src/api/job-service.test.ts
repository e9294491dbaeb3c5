import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { JobState, OutputMode } from "@jobexec/proto";
import { jobNode, slowPath } from "@jobexec/testing-slow";
import { readOutput, startTestServer, type TestServer } from "../test-support/test-harness.ts";

describe("JobService end to end", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test("start, get, stream, list and stop", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "echo hello world; echo oops >&2"] });
    assert.ok(job);
    assert.equal(job.owner, "alice");
    assert.equal(job.state, JobState.RUNNING);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout.toString(), "hello world\n");
    assert.equal(out.stderr.toString(), "oops\n");
    assert.ok(out.last, "the job is the last message");
    assert.equal(out.job?.state, JobState.EXITED);
    assert.equal(out.job?.exitCode, 0);
    const got = await alice.getJob({ id: job.id });
    assert.equal(got.job?.output?.stdoutBytes, 12n);
    const listed = await alice.listJobs({});
    assert.ok(listed.jobs.some((j) => j.id === job.id));

    const { job: sleeper } = await alice.startJob({ program: "sleep", args: ["1000"] });
    assert.ok(sleeper);
    const stopped = await alice.stopJob({ id: sleeper.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    assert.equal(stopped.job?.state, JobState.STOPPED);
    assert.equal(stopped.job?.stoppedBy, "alice");
    const running = await alice.listJobs({ states: [JobState.RUNNING] });
    assert.ok(!running.jobs.some((j) => j.id === sleeper.id));
  });

  test("exit code, merged output and offsets", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "echo a; echo b >&2; echo c; exit 3"], outputMode: OutputMode.MERGED });
    assert.ok(job);
    const out = await readOutput(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout.toString(), "a\nb\nc\n");
    assert.equal(out.stderr.toString(), "");
    assert.equal(out.job?.exitCode, 3);
    const fromOffset = await readOutput(alice.streamOutput({ id: job.id, stdoutOffset: 2n }));
    assert.equal(fromOffset.stdout.toString(), "b\nc\n");
    const tail = await readOutput(alice.streamOutput({ id: job.id, tailLines: 1n }));
    assert.equal(tail.stdout.toString(), "c\n");
  });

  test("StopJob is idempotent: a second stop, or a stop of an ended job, returns it unchanged", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: "sleep", args: ["1000"] });
    assert.ok(job);
    const first = await alice.stopJob({ id: job.id });
    const again = await t.jobs(t.pki.admin).stopJob({ id: job.id });
    assert.equal(again.job?.state, JobState.STOPPED);
    assert.equal(again.job?.stoppedBy, "alice");
    assert.deepEqual(again.job?.endTime, first.job?.endTime);
    const { job: done } = await alice.startJob({ program: "true" });
    assert.ok(done);
    await readOutput(alice.streamOutput({ id: done.id, follow: true }));
    const stopped = await alice.stopJob({ id: done.id });
    assert.equal(stopped.job?.state, JobState.EXITED);
    assert.equal(stopped.job?.stoppedBy, "");
  });

  test("followers get output live, while the job still runs", async () => {
    const alice = t.jobs(t.pki.alice);
    const { job } = await alice.startJob({ program: jobNode, args: [slowPath, "3", "--interval", "1000"] });
    assert.ok(job);
    const seen: { text: string; state: JobState | undefined }[] = [];
    for await (const m of alice.streamOutput({ id: job.id, follow: true })) {
      if (m.event.case !== "chunk") continue;
      const text = Buffer.from(m.event.value.data).toString();
      // The job's state when the chunk arrived: the first line must come while it still runs.
      seen.push({ text, state: seen.length === 0 ? (await alice.getJob({ id: job.id })).job?.state : undefined });
    }
    assert.match(seen[0]?.text ?? "", /^line 1\n/);
    assert.equal(seen[0]?.state, JobState.RUNNING);
    assert.match(seen.map((c) => c.text).join(""), /exited 0\n$/);
  });

  for (const protocol of ["grpc-web", "connect", "connect-http1"] as const) {
    test(`answers over ${protocol}`, async () => {
      const client = t.jobs(t.pki.alice, protocol);
      const { job } = await client.startJob({ program: "seq", args: ["3"] });
      assert.ok(job);
      const out = await readOutput(client.streamOutput({ id: job.id, follow: true }));
      assert.equal(out.stdout.toString(), "1\n2\n3\n");
      await assert.rejects(client.getJob({ id: "nope" }), (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument);
    });
  }
});
