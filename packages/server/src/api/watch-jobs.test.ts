// WatchJobs through a real server process: order, resume after a disconnect, resync, a stalled watcher dropped.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { type JobChange, JobChangeKind, type JobService, JobState, type WatchJobsResponse, type WatchPosition } from "@jobexec/proto";
import { ServerHome } from "../test-support/server-home.ts";
import { createPki, type Pki } from "../test-support/pki.ts";
import { failure } from "../test-support/test-harness.ts";

type Jobs = Client<typeof JobService>;

/** A watch read message by message. */
function watch(client: Jobs, request: Parameters<Jobs["watchJobs"]>[0] = {}) {
  const abort = new AbortController();
  const it = client.watchJobs(request, { signal: abort.signal })[Symbol.asyncIterator]();
  return {
    async position(): Promise<WatchPosition> {
      const m = await it.next();
      assert.ok(!m.done && m.value.event.case === "position", "the first message is the position");
      return m.value.event.value;
    },
    /** The next `n` changes. */
    async changes(n: number): Promise<JobChange[]> {
      const out: JobChange[] = [];
      while (out.length < n) {
        const m: IteratorResult<WatchJobsResponse> = await it.next();
        assert.ok(!m.done, "the watch ended early");
        if (m.value.event.case === "change") out.push(m.value.event.value);
      }
      return out;
    },
    next: () => it.next(),
    close: () => abort.abort(),
  };
}

const nameOf = (values: Record<string, number>, value: number): string | undefined => Object.entries(values).find(([, v]) => v === value)?.[0];
const summary = (changes: JobChange[]) => changes.map((c) => [c.job?.id, nameOf(JobChangeKind, c.kind), nameOf(JobState, c.job?.state ?? 0)]);

describe("WatchJobs", { timeout: 120_000 }, () => {
  let pki: Pki;
  before(async () => {
    pki = await createPki();
  });

  test("every change of the caller's jobs in order with growing sequences; a reconnect resumes from the last one seen, or is told to resync", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--standby=0", "--max-running=1"]);
    const [alice, bob] = await Promise.all([server.jobs(pki.alice), server.jobs(pki.bob)]);
    const watcher = watch(alice);
    const start = await watcher.position();
    assert.equal(start.resync, false);
    const blocker = (await alice.startJob({ program: "sleep", args: ["1000"] })).job;
    const queued = (await alice.startJob({ program: "true" })).job;
    await bob.startJob({ program: "true" }); // not alice's: never seen by her watch
    await alice.stopJob({ id: blocker?.id as string, gracePeriod: { seconds: 0n, nanos: 0 } });
    const seen = await watcher.changes(5);
    assert.deepEqual(summary(seen), [
      [blocker?.id, "CREATED", "RUNNING"],
      [queued?.id, "CREATED", "QUEUED"],
      [blocker?.id, "ENDED", "STOPPED"],
      [queued?.id, "STARTED", "RUNNING"],
      [queued?.id, "ENDED", "EXITED"],
    ]);
    const sequences = seen.map((c) => c.sequence);
    assert.deepEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)), sequences);
    assert.ok(sequences[0] as bigint > start.sequence);
    watcher.close();

    // Missed while disconnected: a deletion and a new job.
    await alice.deleteJob({ id: queued?.id as string });
    const third = (await alice.startJob({ program: "true" })).job;
    const resumed = watch(alice, { resumeEpoch: start.epoch, afterSequence: sequences.at(-1) as bigint });
    assert.deepEqual(await resumed.position(), { ...start, $typeName: start.$typeName, sequence: sequences.at(-1) as bigint, resync: false, reason: "" });
    const missed = await resumed.changes(2);
    // (The third job may have queued behind bob's: only one runs at a time.)
    assert.deepEqual(summary(missed).slice(0, 2).map(([id, kind]) => [id, kind]), [
      [queued?.id, "DELETED"],
      [third?.id, "CREATED"],
    ]);
    resumed.close();
    const other = watch(alice, { resumeEpoch: "an-earlier-server", afterSequence: 3n });
    const told = await other.position();
    assert.equal(told.resync, true);
    assert.equal(told.reason, "the server restarted since (another epoch)");
    other.close();
    const bad = await failure((async () => watch(alice, { afterSequence: 3n }).position())());
    assert.equal(bad.code, Code.InvalidArgument);
    assert.equal(bad.rawMessage, "after_sequence needs the resume_epoch it belongs to");
    const notAdmin = await failure((async () => watch(alice, { allOwners: true }).position())());
    assert.equal(notAdmin.code, Code.PermissionDenied);
  });

  test("a deleted job's change carries it as it was, arguments longer than the 4096 characters a kept change holds included, live and on resume", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--standby=0"]);
    const alice = await server.jobs(pki.alice);
    const args = ["-c", "exit 0", ...Array.from({ length: 1000 }, (_, i) => `argument-${String(i)}`)];
    assert.ok(JSON.stringify(args).length > 4096);
    const watcher = watch(alice);
    const start = await watcher.position();
    const { job } = await alice.startJob({ program: "sh", args });
    const id = job?.id as string;
    const [, ended] = await watcher.changes(2);
    assert.equal(ended?.kind, JobChangeKind.ENDED);
    await alice.deleteJob({ id });
    const [deleted] = await watcher.changes(1);
    watcher.close();
    assert.deepEqual([deleted?.kind, deleted?.job?.id, deleted?.job?.state, deleted?.job?.program], [JobChangeKind.DELETED, id, JobState.EXITED, "sh"]);
    assert.deepEqual(deleted?.job?.args, args, "live");
    // A watcher that resumes after the deletion replays every change from the log: the deleted one still holds them.
    const resumed = watch(alice, { resumeEpoch: start.epoch, afterSequence: start.sequence });
    await resumed.position();
    const replayed = await resumed.changes(3);
    resumed.close();
    assert.deepEqual(replayed.map((c) => nameOf(JobChangeKind, c.kind)), ["CREATED", "ENDED", "DELETED"]);
    assert.deepEqual(replayed[2]?.job?.args, args, "on resume");
  });

  test("a watcher that stops reading is dropped with RESOURCE_EXHAUSTED once its backlog passes the bound; another is not held back", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--standby=0", "--max-watch-backlog=4"]);
    const alice = await server.jobs(pki.alice);
    const stalled = watch(alice);
    await stalled.position();
    const reader = watch(alice);
    await reader.position();
    // Large messages (each change carries the job's 100 KB argument) fill the stalled stream's window at once.
    const big = "x".repeat(100_000);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { job } = await alice.startJob({ program: "true", args: [big] });
      ids.push(job?.id as string);
      // The reader keeps up: it gets each job's creation and end, while the stalled one falls behind.
      assert.deepEqual(summary(await reader.changes(2)), [
        [job?.id, "CREATED", "RUNNING"],
        [job?.id, "ENDED", "EXITED"],
      ]);
    }
    let error: unknown;
    try {
      for (let m = await stalled.next(); !m.done; m = await stalled.next());
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, Code.ResourceExhausted);
    assert.match(error.rawMessage, /^watcher too slow: more than 4 changes unread \(--max-watch-backlog\)/);
    reader.close();
    // The server serves on.
    assert.equal((await alice.getJob({ id: ids[0] as string })).job?.id, ids[0]);
  });

  test("a WatchJobs call counts against --max-streams-per-identity like StreamOutput", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start(["--standby=0", "--max-streams-per-identity=2"]);
    const alice = await server.jobs(pki.alice);
    const watchers = [watch(alice), watch(alice)];
    await Promise.all(watchers.map((w) => w.position()));
    const refused = await failure((async () => watch(alice).position())());
    assert.equal(refused.code, Code.ResourceExhausted);
    assert.match(refused.rawMessage, /^too many open streams: alice has 2 /);
    // Another identity is not affected.
    const bob = watch(await server.jobs(pki.bob));
    assert.equal((await bob.position()).resync, false);
    for (const w of [...watchers, bob]) w.close();
  });
});
