import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { HealthCheckResponse_ServingStatus, JobState, type OutputStream, type StartJobRequest, type StartJobRequestSchema } from "@jobexec/proto";
import { failure, startTestServer, type TestServer } from "../test-support/test-harness.ts";

type Start = MessageInitShape<typeof StartJobRequestSchema>;

describe("bad requests", () => {
  let t: TestServer;
  let finished: string;
  before(async () => {
    t = await startTestServer();
    const { job } = await t.jobs(t.pki.alice).startJob({ program: "true" });
    assert.ok(job);
    finished = job.id;
  });
  after(() => t.close());

  const drain = async (stream: AsyncIterable<unknown>) => {
    for await (const _ of stream);
  };
  const start = (req: Start) => () => t.jobs(t.pki.alice).startJob(req);

  const cases: [string, Code, () => Promise<unknown>][] = [
    ["empty program", Code.InvalidArgument, start({ program: "" })],
    ["program not found", Code.InvalidArgument, start({ program: "no-such-program-anywhere" })],
    ["program with NUL", Code.InvalidArgument, start({ program: "/bin/true\0x" })],
    ["argument with NUL", Code.InvalidArgument, start({ program: "true", args: ["a\0b"] })],
    ["env name with =", Code.InvalidArgument, start({ program: "true", env: { "A=B": "c" } })],
    ["empty env name", Code.InvalidArgument, start({ program: "true", env: { "": "c" } })],
    ["relative working directory", Code.InvalidArgument, start({ program: "true", workingDirectory: "tmp" })],
    ["missing working directory", Code.InvalidArgument, start({ program: "true", workingDirectory: "/no/such/dir" })],
    ["unknown output mode", Code.InvalidArgument, start({ program: "true", outputMode: 7 as StartJobRequest["outputMode"] })],
    ["negative memory limit", Code.InvalidArgument, start({ program: "true", limits: { memoryMaxBytes: -1n } })],
    ["huge pids limit", Code.InvalidArgument, start({ program: "true", limits: { pidsMax: 1n << 62n } })],
    ["zero cpu", Code.InvalidArgument, start({ program: "true", limits: { cpu: 0 } })],
    ["NaN cpu", Code.InvalidArgument, start({ program: "true", limits: { cpu: Number.NaN } })],
    ["cpu weight out of range", Code.InvalidArgument, start({ program: "true", limits: { cpuWeight: 10001 } })],
    ["io limit without a rate", Code.InvalidArgument, start({ program: "true", limits: { io: [{ device: "/" }] } })],
    ["io limit without a device", Code.InvalidArgument, start({ program: "true", limits: { io: [{ device: "", readBps: 1n }] } })],
    ["malformed job id", Code.InvalidArgument, () => t.jobs(t.pki.alice).getJob({ id: "../../etc/passwd" })],
    ["empty job id", Code.InvalidArgument, () => t.jobs(t.pki.alice).getJob({ id: "" })],
    ["upper-case job id", Code.InvalidArgument, () => t.jobs(t.pki.alice).getJob({ id: randomUUID().toUpperCase() })],
    ["unknown job", Code.NotFound, () => t.jobs(t.pki.alice).getJob({ id: randomUUID() })],
    ["negative grace period", Code.InvalidArgument, () => t.jobs(t.pki.alice).stopJob({ id: finished, gracePeriod: { seconds: -1n } })],
    ["grace period over an hour", Code.InvalidArgument, () => t.jobs(t.pki.alice).stopJob({ id: finished, gracePeriod: { seconds: 7200n } })],
    ["unknown state filter", Code.InvalidArgument, () => t.jobs(t.pki.alice).listJobs({ states: [JobState.UNSPECIFIED] })],
    ["negative stdout offset", Code.InvalidArgument, () => drain(t.jobs(t.pki.alice).streamOutput({ id: finished, stdoutOffset: -5n }))],
    ["tail lines with an offset", Code.InvalidArgument, () => drain(t.jobs(t.pki.alice).streamOutput({ id: finished, tailLines: 3n, stderrOffset: 1n }))],
    ["unknown output stream", Code.InvalidArgument, () => drain(t.jobs(t.pki.alice).streamOutput({ id: finished, stream: 9 as OutputStream }))],
    ["request over 1 MiB", Code.ResourceExhausted, start({ program: "true", args: ["x".repeat(2 * 1024 * 1024)] })],
    ["unknown health service", Code.NotFound, () => t.health().check({ service: "no.such.Service" })],
  ];

  for (const [name, code, call] of cases) {
    test(`${name}: ${Code[code]}, and the server stays healthy`, async () => {
      const err = await failure(call());
      assert.equal(Code[err.code], Code[code], err.rawMessage);
      assert.ok(err.rawMessage.length > 0 && !/\n\s+at /.test(err.rawMessage), "a sentence, never a stack");
      const health = await t.health().check({});
      assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
    });
  }

  test("a limit this host cannot enforce: FAILED_PRECONDITION", async (ctx) => {
    if (t.server.manager.cgroups.controllers.includes("memory")) return ctx.skip("this host can enforce memory limits");
    const err = await failure(t.jobs(t.pki.alice).startJob({ program: "true", limits: { memoryMaxBytes: 10n * 1024n * 1024n } }));
    assert.equal(err.code, Code.FailedPrecondition, err.rawMessage);
  });

  test("no rejected StartJob left a job behind", async () => {
    const { jobs } = await t.jobs(t.pki.alice).listJobs({});
    assert.deepEqual(jobs.map((j) => j.id), [finished]);
  });
});
