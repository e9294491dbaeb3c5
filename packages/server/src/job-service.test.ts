import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { JobState, OutputMode, OutputStream, type Job, type StreamOutputResponse } from "@jobexec/proto";
import { startTestServer, type TestServer } from "./test-harness.ts";

async function collect(stream: AsyncIterable<StreamOutputResponse>): Promise<{ stdout: string; stderr: string; job: Job | undefined; after: number }> {
  let stdout = "";
  let stderr = "";
  let job: Job | undefined;
  let afterJob = 0;
  for await (const m of stream) {
    if (job) afterJob++;
    if (m.event.case === "chunk") {
      const text = Buffer.from(m.event.value.data).toString();
      if (m.event.value.stream === OutputStream.STDOUT) stdout += text;
      else stderr += text;
    } else if (m.event.case === "job") {
      job = m.event.value;
    }
  }
  return { stdout, stderr, job, after: afterJob };
}

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
    const out = await collect(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout, "hello world\n");
    assert.equal(out.stderr, "oops\n");
    assert.equal(out.after, 0, "the job is the last message");
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
    const out = await collect(alice.streamOutput({ id: job.id, follow: true }));
    assert.equal(out.stdout, "a\nb\nc\n");
    assert.equal(out.stderr, "");
    assert.equal(out.job?.exitCode, 3);
    const fromOffset = await collect(alice.streamOutput({ id: job.id, stdoutOffset: 2n }));
    assert.equal(fromOffset.stdout, "b\nc\n");
    const tail = await collect(alice.streamOutput({ id: job.id, tailLines: 1n }));
    assert.equal(tail.stdout, "c\n");
  });

  for (const protocol of ["grpc-web", "connect"] as const) {
    test(`answers over ${protocol}`, async () => {
      const client = t.jobs(t.pki.alice, protocol);
      const { job } = await client.startJob({ program: "seq", args: ["3"] });
      assert.ok(job);
      const out = await collect(client.streamOutput({ id: job.id, follow: true }));
      assert.equal(out.stdout, "1\n2\n3\n");
      await assert.rejects(client.getJob({ id: "nope" }), (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument);
    });
  }
});
