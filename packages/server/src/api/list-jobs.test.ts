// ListJobs pages: sizes, tokens bound to their filters, stable under concurrent inserts, bounded in bytes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { JobSchema, JobState, ListJobsResponseSchema, type Job } from "@jobexec/proto";
import { jobMessage } from "./job-message.ts";
import { DEFAULT_PAGE_SIZE, encodedSizeBound, MAX_PAGE_BYTES, MAX_PAGE_SIZE, pageSize } from "./list-page.ts";
import { failure, startTestServer, type TestServer } from "../test-support/test-harness.ts";

describe("ListJobs paging", { timeout: 300_000 }, () => {
  let t: TestServer;
  const started: string[] = [];
  before(async () => {
    t = await startTestServer();
    // 250 ended jobs of alice, started 25 at a time (each exits at once), kept newest first by creation order.
    for (let i = 0; i < 250; i += 25) {
      const batch = await Promise.all(Array.from({ length: 25 }, () => t.server.manager.start({ program: "true" }, "alice")));
      started.push(...batch.toSorted((a, b) => a.seq - b.seq).map((job) => job.id));
    }
  });
  after(() => t.close());

  /** Every page of a listing, following next_page_token. */
  async function pages(request: Parameters<ReturnType<TestServer["jobs"]>["listJobs"]>[0], between?: () => Promise<void>): Promise<Job[][]> {
    const alice = t.jobs(t.pki.alice);
    const out: Job[][] = [];
    let pageToken = "";
    do {
      const page = await alice.listJobs({ ...request, pageToken });
      out.push(page.jobs);
      pageToken = page.nextPageToken;
      await between?.();
    } while (pageToken !== "");
    return out;
  }

  test("page_size 0 is 100, larger than 1000 is 1000, negative is INVALID_ARGUMENT; the last page has no token", async () => {
    assert.deepEqual([pageSize(0), pageSize(7), pageSize(1000), pageSize(5000)], [DEFAULT_PAGE_SIZE, 7, MAX_PAGE_SIZE, MAX_PAGE_SIZE]);
    const alice = t.jobs(t.pki.alice);
    const first = await alice.listJobs({});
    assert.equal(first.jobs.length, DEFAULT_PAGE_SIZE);
    assert.notEqual(first.nextPageToken, "");
    assert.deepEqual(first.jobs.map((j) => j.id), started.toReversed().slice(0, 100), "newest first");
    const rest = await alice.listJobs({ pageSize: 5000, pageToken: first.nextPageToken });
    assert.equal(rest.jobs.length, 150);
    assert.equal(rest.nextPageToken, "", "no token after the last page");
    const err = await failure(alice.listJobs({ pageSize: -1 }));
    assert.equal(err.code, Code.InvalidArgument);
  });

  test("paging through everything while jobs are started: none skipped, none repeated, none of the new ones", async () => {
    const alice = t.jobs(t.pki.alice);
    const added: string[] = [];
    const listed = (await pages({ pageSize: 37 }, async () => {
      const { job } = await alice.startJob({ program: "true" });
      added.push(job?.id ?? "");
    })).flat().map((j) => j.id);
    assert.equal(new Set(listed).size, listed.length, "no job twice");
    assert.deepEqual(listed, started.toReversed(), "exactly the jobs there when the listing began, newest first");
    assert.ok(added.length >= 7 && added.every((id) => !listed.includes(id)));
    started.push(...added);
  });

  test("a token is only valid with the filters that produced it, and cannot be forged", async () => {
    const alice = t.jobs(t.pki.alice);
    const { nextPageToken } = await alice.listJobs({ pageSize: 10, states: [JobState.EXITED] });
    assert.equal((await alice.listJobs({ pageSize: 10, states: [JobState.EXITED], pageToken: nextPageToken })).jobs.length, 10);
    const other = await failure(alice.listJobs({ pageSize: 10, states: [JobState.FAILED], pageToken: nextPageToken }));
    assert.equal(other.code, Code.InvalidArgument);
    assert.match(other.rawMessage, /other filters/);
    // Another user's token names another owner: refused for bob.
    assert.equal((await failure(t.jobs(t.pki.bob).listJobs({ states: [JobState.EXITED], pageToken: nextPageToken }))).code, Code.InvalidArgument);
    for (const forged of ["garbage", Buffer.from('{"v":1,"seq":-1,"f":"x"}').toString("base64url"), Buffer.from('{"v":9,"seq":5,"f":"x"}').toString("base64url")]) {
      const err = await failure(alice.listJobs({ pageToken: forged }));
      assert.equal(err.code, Code.InvalidArgument, forged);
      assert.match(err.rawMessage, /page_token/);
    }
  });

  test("a page is at most 1 MiB encoded: jobs with 120 KiB of arguments make short pages, each with a next token", async () => {
    const bob = t.jobs(t.pki.bob);
    const big = "z".repeat(120 * 1024);
    for (let i = 0; i < 20; i++) await bob.startJob({ program: "true", args: [big] });
    const sizes: number[] = [];
    let pageToken = "";
    let jobs = 0;
    do {
      const page = await bob.listJobs({ pageSize: 100, pageToken });
      sizes.push(toBinary(ListJobsResponseSchema, page).length);
      jobs += page.jobs.length;
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    console.log(`# 20 jobs of 120 KiB arguments: pages of ${sizes.map((b) => `${(b / 1024).toFixed(0)} KiB`).join(", ")}`);
    assert.equal(jobs, 20);
    assert.ok(sizes.length >= 3);
    for (const size of sizes) assert.ok(size <= MAX_PAGE_BYTES, `${size} bytes`);
  });

  test("the size bound a page is cut by is never below a job's encoded size", async () => {
    await t.server.manager.start({ program: "/bin/sh", args: ["-c", "exit 3", "ünïcødé ✓ 🚀".repeat(100)], env: { A: "b" }, cwd: "/tmp" }, "dana");
    for (const job of await t.server.manager.list()) {
      const encoded = toBinary(JobSchema, jobMessage(job)).length;
      assert.ok(encodedSizeBound(job) >= encoded + 6, `${job.id}: bound ${encodedSizeBound(job)}, encoded ${encoded}`);
    }
  });
});
