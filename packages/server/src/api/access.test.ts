import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { JobState } from "@jobexec/proto";
import { issueCertificate, type Credentials } from "../certificates/certificates.ts";
import { failure, startTestServer, type TestServer } from "../test-support/test-harness.ts";

async function drainStream(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}

describe("authorization matrix", () => {
  let t: TestServer;
  let aliceJob: string;
  before(async () => {
    t = await startTestServer();
    const { job } = await t.jobs(t.pki.alice).startJob({ program: "sleep", args: ["1000"] });
    assert.ok(job);
    aliceJob = job.id;
  });
  after(() => t.close());

  // Every RPC that names a job, as a function of caller and id.
  const byId: Record<string, (who: Credentials, id: string) => Promise<unknown>> = {
    GetJob: (who, id) => t.jobs(who).getJob({ id }),
    StreamOutput: (who, id) => drainStream(t.jobs(who).streamOutput({ id })),
    StopJob: (who, id) => t.jobs(who).stopJob({ id, gracePeriod: { seconds: 0n, nanos: 0 } }),
    DeleteJob: (who, id) => t.jobs(who).deleteJob({ id }),
  };

  for (const [rpc, call] of Object.entries(byId)) {
    test(`${rpc}: another user gets NOT_FOUND worded exactly as for a job that does not exist`, async () => {
      const missing = randomUUID();
      const notYours = await failure(call(t.pki.bob, aliceJob));
      const absent = await failure(call(t.pki.bob, missing));
      assert.equal(notYours.code, Code.NotFound);
      assert.equal(absent.code, Code.NotFound);
      assert.equal(notYours.rawMessage.replace(aliceJob, "ID"), absent.rawMessage.replace(missing, "ID"));
      const { job } = await t.jobs(t.pki.alice).getJob({ id: aliceJob });
      assert.equal(job?.state, JobState.RUNNING, "the owner's job is untouched");
    });
  }

  test("GetJob and StreamOutput: the owner and an admin may", async () => {
    for (const who of [t.pki.alice, t.pki.admin]) {
      const { job } = await t.jobs(who).getJob({ id: aliceJob });
      assert.equal(job?.owner, "alice");
      assert.equal(await drainStream(t.jobs(who).streamOutput({ id: aliceJob })), 1, "no output yet, then the status");
    }
  });

  test("StopJob: the owner may stop their job, an admin anyone's; stopped_by names who", async () => {
    const alice = t.jobs(t.pki.alice);
    const first = (await alice.startJob({ program: "sleep", args: ["1000"] })).job;
    const second = (await alice.startJob({ program: "sleep", args: ["1000"] })).job;
    assert.ok(first && second);
    const byOwner = await alice.stopJob({ id: first.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    assert.equal(byOwner.job?.stoppedBy, "alice");
    const byAdmin = await t.jobs(t.pki.admin).stopJob({ id: second.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    assert.equal(byAdmin.job?.state, JobState.STOPPED);
    assert.equal(byAdmin.job?.stoppedBy, "root");
  });

  test("DeleteJob: the owner may delete their ended job, an admin anyone's; a running job is FAILED_PRECONDITION", async () => {
    const alice = t.jobs(t.pki.alice);
    const running = await failure(alice.deleteJob({ id: aliceJob }));
    assert.equal(running.code, Code.FailedPrecondition);
    for (const who of [t.pki.alice, t.pki.admin]) {
      const { job } = await alice.startJob({ program: "true" });
      assert.ok(job);
      await drainStream(alice.streamOutput({ id: job.id, follow: true }));
      const deleted = await t.jobs(who).deleteJob({ id: job.id });
      assert.equal(deleted.job?.id, job.id);
      assert.equal(deleted.job?.state, JobState.EXITED);
      assert.equal((await failure(alice.getJob({ id: job.id }))).code, Code.NotFound);
    }
  });

  test("StartJob: every identity may start jobs, owned by its CN", async () => {
    for (const [who, name] of [[t.pki.alice, "alice"], [t.pki.bob, "bob"], [t.pki.admin, "root"]] as const) {
      const { job } = await t.jobs(who).startJob({ program: "true" });
      assert.equal(job?.owner, name);
    }
  });

  test("ListJobs: users see their own; only admins see others' and filter by owner", async () => {
    const owners = async (who: Credentials, req: { allOwners?: boolean; owner?: string }) =>
      new Set((await t.jobs(who).listJobs(req)).jobs.map((j) => j.owner));
    await t.jobs(t.pki.bob).startJob({ program: "true" });
    assert.deepEqual(await owners(t.pki.alice, {}), new Set(["alice"]));
    assert.deepEqual(await owners(t.pki.bob, {}), new Set(["bob"]));
    for (const req of [{ allOwners: true }, { owner: "alice" }, { owner: "bob" }]) {
      const err = await failure(t.jobs(t.pki.bob).listJobs(req));
      assert.equal(err.code, Code.PermissionDenied);
    }
    assert.deepEqual(await owners(t.pki.admin, { allOwners: true }), new Set(["alice", "bob", "root"]));
    assert.deepEqual(await owners(t.pki.admin, { owner: "alice" }), new Set(["alice"]));
    assert.deepEqual(await owners(t.pki.admin, {}), new Set(["root"]));
  });

  test("a certificate without a CN is refused on every RPC", async () => {
    const nameless = await issueCertificate(t.pki.ca, { subject: { organizationalUnit: "admin" }, usage: "client" });
    const calls: Promise<unknown>[] = [
      t.jobs(nameless).startJob({ program: "true" }),
      t.jobs(nameless).listJobs({ allOwners: true }),
      t.health(nameless).check({}),
      ...Object.values(byId).map((call) => call(nameless, aliceJob)),
    ];
    for (const call of calls) assert.equal((await failure(call)).code, Code.Unauthenticated);
  });

  test("every call is logged with caller, method, job and result", () => {
    const line = t.logs.find((l) => l.msg === "rpc" && l.method === "jobexec.v1.JobService/GetJob" && l.caller === "bob" && l.code === "not_found");
    assert.ok(line);
    assert.equal(typeof line.ms, "number");
    assert.match(String(line.job), /^[0-9a-f-]{36}$/);
  });
});
