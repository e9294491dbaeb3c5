// Restarts of real jobexec-server processes on one data directory and cgroup parent: graceful, kept jobs, crashes.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import { JobState, StopReason, type Job, type JobService } from "@jobexec/proto";
import { ServerHome, type HomeServer } from "./test-support/server-home.ts";
import { createPki, type Pki } from "./test-support/pki.ts";
import { failure, readOutput } from "./test-support/test-harness.ts";

type Jobs = Client<typeof JobService>;

/** A job that writes numbered lines every 20 ms, forever; its output shows whether any byte was lost. */
const counter = ["/bin/sh", ["-c", "i=0; while :; do i=$((i+1)); echo line $i; sleep 0.02; done"]] as const;

function isCounted(text: string): boolean {
  const lines = text.trimEnd().split("\n");
  return lines.every((line, i) => line === `line ${String(i + 1)}`);
}

interface Following {
  /** What was read so far: everything up to `line N` at least. */
  text: string;
  /** Reads the stream to its end: the rest of the output and the final status. */
  rest(): Promise<{ text: string; job: Job | undefined }>;
  /** Cancels the stream. */
  close(): Promise<void>;
}

/** Follows a job from offset 0 until its stdout holds `line N`. */
async function followUntil(client: Jobs, id: string, lineNo: number): Promise<Following> {
  const it = client.streamOutput({ id, follow: true })[Symbol.asyncIterator]();
  let text = "";
  while (!text.includes(`line ${String(lineNo)}\n`)) {
    const m = await it.next();
    assert.ok(!m.done, "the stream ended early");
    if (m.value.event.case === "chunk") text += Buffer.from(m.value.event.value.data).toString();
  }
  return {
    text,
    async rest() {
      let more = "";
      let job: Job | undefined;
      for (let m = await it.next(); !m.done; m = await it.next()) {
        if (m.value.event.case === "chunk") more += Buffer.from(m.value.event.value.data).toString();
        if (m.value.event.case === "job") job = m.value.event.value;
      }
      return { text: more, job };
    },
    async close() {
      await it.return?.();
    },
  };
}

async function started(server: HomeServer, pki: Pki): Promise<Jobs> {
  await server.url();
  return server.jobs(pki.alice);
}

describe("server restarts", { timeout: 120_000 }, () => {
  let pki: Pki;
  before(async () => {
    pki = await createPki();
  });

  test("graceful restart: finished jobs are back with the same ids and byte-identical output; running ones were stopped as server shutdown", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    let server = home.start();
    let alice = await started(server, pki);
    const { job: done } = await alice.startJob({ program: "/bin/sh", args: ["-c", "printf 'a\\0\\377b'; echo err >&2; exit 3"] });
    assert.ok(done);
    const first = await readOutput(alice.streamOutput({ id: done.id, follow: true }));
    const { job: running } = await alice.startJob({ program: counter[0], args: [...counter[1]] });
    assert.ok(running);
    await (await followUntil(alice, running.id, 2)).close();
    const listed = (await alice.listJobs({})).jobs;
    assert.equal(await server.kill("SIGTERM"), 0);

    server = home.start();
    alice = await started(server, pki);
    const again = await readOutput(alice.streamOutput({ id: done.id, follow: true }));
    assert.ok(again.stdout.equals(first.stdout) && again.stdout.equals(Buffer.from("a\0\xffb", "latin1")));
    assert.equal(again.stderr.toString(), "err\n");
    assert.equal(again.job?.exitCode, 3);
    assert.equal(again.job?.state, JobState.EXITED);
    const after = (await alice.listJobs({})).jobs;
    assert.deepEqual(after.map((j) => j.id), listed.map((j) => j.id));
    const stopped = after.find((j) => j.id === running.id);
    assert.equal(stopped?.state, JobState.STOPPED);
    assert.equal(stopped?.stopReason, StopReason.SERVER_SHUTDOWN);
    assert.equal(stopped?.stoppedBy, "");
    assert.equal(stopped?.exitStatusUnknown, false);
    assert.ok(isCounted((await readOutput(alice.streamOutput({ id: running.id }))).stdout.toString()));
    // Another user still sees nothing of alice's after the restart.
    const bob = await server.jobs(pki.bob);
    assert.equal((await failure(bob.getJob({ id: done.id }))).code, Code.NotFound);
  });

  for (const how of ["--on-shutdown=keep, then SIGTERM", "SIGKILL (a crash)"] as const) {
    test(`${how}: the next server adopts a running job; a new follower gets it all from offset 0, then live; StopJob stops it`, async (t) => {
      const home = await ServerHome.create(pki);
      t.after(() => home.close());
      const keep = how.startsWith("--on-shutdown");
      let server = home.start(keep ? ["--on-shutdown=keep"] : []);
      let alice = await started(server, pki);
      const { job } = await alice.startJob({ program: counter[0], args: [...counter[1]] });
      assert.ok(job);
      await (await followUntil(alice, job.id, 3)).close();
      if (keep) {
        assert.equal(await server.kill("SIGTERM"), 0);
        assert.ok(server.lines.some((l) => l.msg === "left 1 running job(s) running for the next server to adopt"));
      } else {
        assert.equal(await server.kill("SIGKILL"), null);
      }
      assert.ok(existsSync(job.cgroup), "the job's cgroup outlived the server");
      await sleep(300); // the job keeps writing while no server runs

      server = home.start();
      alice = await started(server, pki);
      await server.waitForLog((l) => l.jobId === job.id && String(l.msg).startsWith("adopted running job"));
      const adopted = (await alice.getJob({ id: job.id })).job;
      assert.equal(adopted?.state, JobState.RUNNING);
      assert.equal(adopted?.pid, job.pid);
      const seen = await followUntil(alice, job.id, 40);
      const { job: stopped } = await alice.stopJob({ id: job.id, gracePeriod: { seconds: 1n, nanos: 0 } });
      const rest = await seen.rest();
      assert.ok(isCounted(seen.text + rest.text), "every line from the first, in order, none lost or doubled");
      assert.equal(Buffer.byteLength(seen.text + rest.text), Number(stopped?.output?.stdoutBytes));
      assert.equal(stopped?.state, JobState.STOPPED);
      assert.equal(stopped?.stopReason, StopReason.REQUESTED);
      assert.equal(stopped?.stoppedBy, "alice");
      assert.equal(stopped?.exitStatusUnknown, true);
      assert.equal(stopped?.exitStatusUnknownReason, "the server restarted while the job ran");
      assert.equal(stopped?.exitCode, undefined);
      assert.equal(stopped?.signal, "");
      assert.equal(stopped?.endTimeApproximate, false);
      assert.equal(rest.job?.state, JobState.STOPPED, "the follow ends with the final status");
      assert.equal(existsSync(job.cgroup), false);
    });
  }

  test("SIGKILL, the job ends while no server runs: the next server records it exited, exit status unknown, end time approximate", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    let server = home.start();
    let alice = await started(server, pki);
    const { job } = await alice.startJob({ program: "/bin/sh", args: ["-c", "echo hello; exec sleep 1000"] });
    assert.ok(job);
    while (Number((await alice.getJob({ id: job.id })).job?.output?.stdoutBytes) === 0) await sleep(20);
    await server.kill("SIGKILL");
    writeFileSync(join(job.cgroup, "cgroup.kill"), "1");
    const killedAt = Date.now();
    server = home.start();
    alice = await started(server, pki);
    const ended = (await alice.getJob({ id: job.id })).job;
    assert.equal(ended?.state, JobState.EXITED);
    assert.equal(ended?.exitStatusUnknown, true);
    assert.equal(ended?.exitStatusUnknownReason, "the server restarted while the job ran");
    assert.equal(ended?.endTimeApproximate, true);
    assert.equal(ended?.exitCode, undefined);
    assert.equal(ended?.signal, "");
    assert.ok(Number(ended?.endTime?.seconds) * 1000 >= killedAt - 1000);
    assert.equal((await readOutput(alice.streamOutput({ id: job.id, follow: true }))).stdout.toString(), "hello\n");
  });

  test("a corrupt state file refuses to start: exit 1, one line naming it, the file untouched", async (t) => {
    const home = await ServerHome.create(pki);
    t.after(() => home.close());
    const server = home.start();
    await server.url();
    assert.equal(await server.kill("SIGTERM"), 0);
    const stateFile = join(home.dataDir, "state.db");
    const garbage = Buffer.from("definitely not SQLite\n".repeat(500));
    await writeFile(stateFile, garbage);
    const refused = home.start();
    assert.equal(await refused.exit, 1);
    assert.equal(refused.stderr.length, 1, refused.stderr.join("\n"));
    assert.match(refused.stderr[0] ?? "", new RegExp(`^jobexec-server: state file ${stateFile} cannot be used \\(.+\\): it is unreadable or not a jobexec state database; restore it, or move it away to start with no records$`));
    assert.ok((await readFile(stateFile)).equals(garbage), "never reset");
  });
});

describe("DeleteJob", { timeout: 60_000 }, () => {
  let home: ServerHome;
  let server: HomeServer;
  before(async () => {
    home = await ServerHome.create();
    server = home.start();
    await server.url();
  });
  after(() => home.close());

  test("the owner and admins may delete an ended job; another user gets NOT_FOUND; a running job is FAILED_PRECONDITION; gone after a restart", async () => {
    const [alice, bob, admin] = await Promise.all([server.jobs(home.pki.alice), server.jobs(home.pki.bob), server.jobs(home.pki.admin)]);
    const finished = async (): Promise<string> => {
      const { job } = await alice.startJob({ program: "true" });
      await readOutput(alice.streamOutput({ id: job?.id ?? "", follow: true }));
      return job?.id ?? "";
    };
    const mine = await finished();
    const theirs = await finished();
    const notFound = await failure(bob.deleteJob({ id: mine }));
    assert.equal(notFound.code, Code.NotFound);
    assert.equal(notFound.rawMessage, `job ${mine} not found`);
    const { job: running } = await alice.startJob({ program: "sleep", args: ["1000"] });
    const busy = await failure(alice.deleteJob({ id: running?.id ?? "" }));
    assert.equal(busy.code, Code.FailedPrecondition);
    assert.match(busy.rawMessage, /still running: stop it first/);
    assert.equal((await alice.deleteJob({ id: mine })).job?.id, mine);
    assert.equal((await admin.deleteJob({ id: theirs })).job?.id, theirs);
    assert.equal(existsSync(join(home.dataDir, "jobs", mine)), false);
    assert.equal((await failure(alice.getJob({ id: mine }))).code, Code.NotFound);
    assert.equal((await failure(alice.deleteJob({ id: mine }))).code, Code.NotFound);
    assert.equal((await failure(alice.deleteJob({ id: "nope" }))).code, Code.InvalidArgument);

    assert.equal(await server.kill("SIGTERM"), 0);
    server = home.start();
    const again = await server.jobs(home.pki.alice);
    await server.url();
    const ids = (await again.listJobs({})).jobs.map((j) => j.id);
    assert.ok(!ids.includes(mine) && !ids.includes(theirs), "deleted records stay deleted");
    assert.ok(ids.includes(running?.id ?? ""));
  });
});
