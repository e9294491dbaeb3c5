// GetQueueSummary against a real server: each owner's running, queued and held jobs, weights and what the next one
// waits for; the host's totals against its capacities; who may see whose line.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { JobState } from "@jobexec/proto";
import { failure, startTestServer, type TestServer } from "../test-support/test-harness.ts";

const GiB = 1024 ** 3;
const sleeper = { program: "sleep", args: ["1000"] };

describe("GetQueueSummary", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ standby: 0, maxJobs: { perUser: 5, admin: 7 }, queue: { maxRunning: 3, memoryCapacityBytes: 3 * GiB, cpuCapacity: 1.5, weights: { alice: 2 } } });
  });
  after(() => t.close());

  test("a user's own line and the host's totals; an admin's everyone's or one owner's; a user asking for others' is PERMISSION_DENIED", async () => {
    const [alice, bob, admin] = [t.jobs(t.pki.alice), t.jobs(t.pki.bob), t.jobs(t.pki.admin)];
    assert.deepEqual((await alice.getQueueSummary({})).owners, [], "nothing running or queued: no line");
    for (let i = 0; i < 2; i++) assert.equal((await alice.startJob(sleeper)).job?.state, JobState.RUNNING);
    assert.equal((await bob.startJob(sleeper)).job?.state, JobState.RUNNING);
    assert.equal((await alice.startJob(sleeper)).job?.state, JobState.QUEUED);
    const later = await bob.startJob({ ...sleeper, notBefore: timestampFromDate(new Date(Date.now() + 3_600_000)) });
    assert.equal(later.job?.state, JobState.QUEUED);

    const mine = await alice.getQueueSummary({});
    assert.deepEqual(
      mine.owners.map((o) => [o.owner, o.running, o.queued, o.held, o.reservedMemoryBytes, o.reservedCpus, o.weight, o.nextReason]),
      [["alice", 2, 1, 0, 0n, 0, 2, "host: 3 jobs running (--max-running)"]],
    );
    const host = mine.host;
    assert.deepEqual(
      [host?.running, host?.queued, host?.held, host?.reservedMemoryBytes, host?.reservedCpus, host?.maxRunning, host?.memoryCapacityBytes, host?.cpuCapacity, host?.maxRunningPerUser, host?.maxRunningPerAdmin],
      [3, 1, 1, 0n, 0, 3, BigInt(3 * GiB), 1.5, 5, 7],
    );
    const bobs = await bob.getQueueSummary({});
    assert.deepEqual(bobs.owners.map((o) => [o.owner, o.running, o.queued, o.held, o.weight, o.nextReason]), [["bob", 1, 0, 1, 1, ""]], "a held job has no turn yet");

    const everyone = await admin.getQueueSummary({ allOwners: true });
    assert.deepEqual(everyone.owners.map((o) => o.owner), ["alice", "bob"]);
    assert.deepEqual((await admin.getQueueSummary({ owner: "bob" })).owners.map((o) => [o.owner, o.held]), [["bob", 1]]);
    assert.deepEqual((await admin.getQueueSummary({})).owners, [], "an admin's own line by default: none");
    for (const request of [{ allOwners: true }, { owner: "alice" }]) {
      const refused = await failure(bob.getQueueSummary(request));
      assert.equal(refused.code, Code.PermissionDenied);
      assert.equal(refused.rawMessage, "only admins may list other users' jobs (all_owners, owner)");
    }

    for (const job of (await admin.listJobs({ allOwners: true, states: [JobState.RUNNING, JobState.QUEUED] })).jobs) {
      await admin.stopJob({ id: job.id, gracePeriod: { seconds: 0n, nanos: 0 } });
    }
    const idle = await admin.getQueueSummary({ allOwners: true });
    assert.deepEqual([idle.owners, idle.host?.running, idle.host?.queued, idle.host?.held], [[], 0, 0, 0]);
  });
});
