// The SQLite job store on real files: schema, round trips, seq never reused, corrupt and newer files refused.
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { newJobId } from "../job-id.ts";
import type { ValidSpec } from "../spec/validate-spec.ts";
import { newRow, recordOf, rowOf } from "./job-row.ts";
import type { JobRow } from "./job-store.ts";
import { migrations, schemaVersion } from "./migrations.ts";
import { SqliteStore } from "./sqlite-store.ts";

const spec: ValidSpec = {
  account: { name: "alice", uid: 61184, gid: 61184, groups: [], home: "/var/lib/jobexec/homes/alice", drop: true },
  program: "echo",
  executable: "/usr/bin/echo",
  args: ["a b", "ü"],
  env: { SECRET: "never stored" },
  cwd: "/",
  limits: { cpu: 0.5, io: [{ device: "/dev/vda", resolvedDevice: "253:0", writeBps: 1000 }] },
  outputMode: "merged",
  isolation: { privateNetwork: true, privateTmp: true, privateTmpBytes: 1 << 20, readOnlySystem: false },
  maxOutputBytes: 1024,
  timeoutMs: 60_000,
};

describe("SqliteStore", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-store-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a new file gets the current schema in WAL mode; rows round-trip; a seq is never given twice", async () => {
    const path = join(dir, "new.db");
    const store = SqliteStore.open(path);
    const ids = [newJobId(), newJobId(), newJobId()];
    const seqs = ids.map((id) => store.insert(newRow(id, "alice", spec)));
    assert.deepEqual(seqs, [1, 2, 3]);
    store.delete(3);
    const fourth = store.insert(newRow(newJobId(), "bob", spec));
    assert.equal(fourth, 4, "the deleted newest seq is not reused");
    const [first] = store.load();
    assert.ok(first);
    // Everything but the arguments, which are written once and read back by seq.
    const { args, ...unchanged } = first;
    store.update({ ...unchanged, state: "exited", exit_code: 7, ended_at: 1234, stdout_bytes: 5 });
    assert.equal(store.args(1), args);
    assert.deepEqual(JSON.parse(args), ["a b", "ü"]);
    assert.equal(store.args(3), undefined, "a deleted row has none");
    store.close();

    const reopened = SqliteStore.open(path);
    const rows = reopened.load();
    reopened.close();
    assert.deepEqual(rows.map((r) => r.seq), [1, 2, 4]);
    assert.equal(rows[0]?.id, ids[0]);
    assert.equal(rows[0]?.state, "exited");
    assert.equal(rows[0]?.exit_code, 7);
    assert.deepEqual(JSON.parse(rows[1]?.args ?? ""), ["a b", "ü"]);
    assert.deepEqual(JSON.parse(rows[1]?.limits ?? ""), spec.limits);
    assert.deepEqual(recordOf(rows[1] as JobRow, dir).snapshot().isolation, spec.isolation);
    assert.equal(rows[1]?.max_output_bytes, 1024);
    assert.equal(rows[1]?.timeout_ms, 60_000);
    assert.deepEqual([rows[1]?.account, rows[1]?.uid, rows[1]?.gid], ["alice", 61184, 61184]);
    assert.ok(!(await readFile(path)).includes("never stored"), "the environment is not stored");

    const raw = new DatabaseSync(path, { readOnly: true });
    assert.deepEqual({ ...raw.prepare("PRAGMA user_version").get() }, { user_version: schemaVersion });
    assert.deepEqual({ ...raw.prepare("PRAGMA journal_mode").get() }, { journal_mode: "wal" });
    raw.close();
    for (const file of [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f))) assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is the server's alone`);
  });

  test("a queued job's request (its environment included) is kept in the store until it starts; its record holds the terms only", () => {
    const store = SqliteStore.open(join(dir, "queued.db"));
    const request = { spec: { program: "echo", env: { TOKEN: "queued secret" } }, maxRunning: 64, maxRunningName: "--max-running-per-user" };
    const seq = store.insert(newRow(newJobId(), "alice", spec, { request, priority: 3 }));
    const [row] = store.load();
    assert.equal(row?.state, "queued");
    assert.equal(row?.priority, 3);
    const record = recordOf(row as JobRow, dir);
    assert.deepEqual(record.request, { maxRunning: 64, maxRunningName: "--max-running-per-user" });
    assert.equal(record.snapshot().priority, 3);
    // An update (the record admitted, say) keeps the stored request; one of a record without a request clears it.
    store.update({ ...rowOf(record), state: "running" });
    assert.deepEqual(JSON.parse(store.queuedRequest(seq) ?? "null"), request);
    record.request = undefined;
    store.update(rowOf(record));
    assert.equal(store.queuedRequest(seq), undefined);
    store.close();
  });

  test("a file of a newer schema is refused with one sentence naming it, and left as it was", async () => {
    const path = join(dir, "newer.db");
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${String(schemaVersion + 1)}`);
    db.close();
    const before = await readFile(path);
    assert.throws(() => SqliteStore.open(path), (err: Error & { code?: string }) => {
      assert.equal(err.name, "JobError");
      assert.equal(err.code, "failed_precondition");
      assert.ok(err.message.includes(path), err.message);
      assert.match(err.message, new RegExp(`schema version ${String(schemaVersion + 1)}, newer`));
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
    assert.ok((await readFile(path)).equals(before));
  });

  test("a file that is not a database, or one with damaged pages, is refused naming it, never reset", async () => {
    const garbage = join(dir, "garbage.db");
    await writeFile(garbage, "this is not a SQLite file, but it is somebody's data\n".repeat(200));
    const content = await readFile(garbage);
    assert.throws(() => SqliteStore.open(garbage), (err: Error & { code?: string }) => {
      assert.equal(err.code, "failed_precondition");
      assert.ok(err.message.startsWith(`state file ${garbage} cannot be used`), err.message);
      return true;
    });
    assert.ok((await readFile(garbage)).equals(content), "left untouched");

    // A real store whose table pages are overwritten with garbage: the integrity check catches it.
    const damaged = join(dir, "damaged.db");
    const store = SqliteStore.open(damaged);
    for (let i = 0; i < 200; i++) store.insert(newRow(newJobId(), "alice", spec));
    store.close();
    const bytes = await readFile(damaged);
    const pageSize = bytes.readUInt16BE(16);
    bytes.fill(0xa5, 2 * pageSize, bytes.length);
    await writeFile(damaged, bytes);
    assert.throws(() => SqliteStore.open(damaged), (err: Error & { code?: string }) => {
      assert.equal(err.code, "failed_precondition");
      assert.ok(err.message.includes(damaged), err.message);
      return true;
    });
  });

  test("another program's SQLite database is refused, not written into", async () => {
    const path = join(dir, "other.db");
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE notes (text TEXT)");
    db.close();
    assert.throws(() => SqliteStore.open(path), (err: Error & { code?: string }) => err.code === "failed_precondition" && err.message.includes(path));
    const raw = new DatabaseSync(path, { readOnly: true });
    assert.deepEqual(raw.prepare("SELECT name FROM sqlite_schema").all().map((r) => r.name), ["notes"]);
    raw.close();
  });

  test("a path that cannot be a file (a directory) is refused naming it", async () => {
    const path = join(dir, "a-directory");
    await mkdir(path);
    assert.throws(() => SqliteStore.open(path), (err: Error & { code?: string }) => err.code === "failed_precondition" && err.message.includes(path));
  });

  test("a timeline is written once, kept by later updates, left out of load() and read on its own", () => {
    const store = SqliteStore.open(join(dir, "timeline.db"));
    const seq = store.insert(newRow(newJobId(), "alice", spec));
    // Everything but the arguments, which are written once at insert.
    const { args: _args, ...row } = { ...newRow(newJobId(), "alice", spec), seq };
    assert.equal(store.timeline(seq), undefined);
    const timeline = JSON.stringify({ intervalMs: 5000, samples: [{ atMs: 1, cpu: 0.5 }] });
    store.update({ ...row, state: "exited", timeline });
    store.update({ ...row, state: "exited", stdout_bytes: 7, timeline: null });
    assert.equal(store.timeline(seq), timeline);
    const [loaded] = store.load();
    assert.equal(loaded?.timeline, null);
    assert.equal(loaded?.stdout_bytes, 7);
    store.close();
  });

  test("a file of schema version 1 is migrated: its rows load, without timelines", () => {
    const path = join(dir, "v1.db");
    const old = new DatabaseSync(path);
    old.exec(migrations[0] as string);
    old.exec("PRAGMA user_version = 1");
    const { timeline: _timeline, queued_request: _request, priority: _priority, ...v1 } = newRow(newJobId(), "alice", spec);
    const names = Object.keys(v1);
    old.prepare(`INSERT INTO jobs (${names.join(", ")}) VALUES (${names.map((n) => `:${n}`).join(", ")})`).run(v1);
    old.close();
    const store = SqliteStore.open(path);
    const [row] = store.load();
    assert.equal(row?.id, v1.id);
    assert.equal(store.timeline(row?.seq ?? 0), undefined);
    store.close();
  });

  test("a file of schema version 2 (timelines) is migrated: its rows load with no queued request and priority 0, timelines kept", () => {
    const path = join(dir, "v2.db");
    const old = new DatabaseSync(path);
    old.exec(migrations[0] as string);
    old.exec(migrations[1] as string);
    old.exec("PRAGMA user_version = 2");
    const { queued_request: _request, priority: _priority, ...v2 } = { ...newRow(newJobId(), "alice", spec), timeline: '{"intervalMs":5000,"samples":[]}' };
    const names = Object.keys(v2);
    const { seq } = old.prepare(`INSERT INTO jobs (${names.join(", ")}) VALUES (${names.map((n) => `:${n}`).join(", ")}) RETURNING seq`).get(v2) as { seq: number };
    old.close();
    const store = SqliteStore.open(path);
    const [row] = store.load();
    assert.equal(row?.id, v2.id);
    assert.equal(row?.queued_request, null);
    assert.equal(row?.priority, 0);
    assert.equal(store.timeline(seq), v2.timeline);
    store.close();
  });

  test(":memory: keeps rows for the life of the store only", () => {
    const store = SqliteStore.open(":memory:");
    assert.equal(store.insert(newRow(newJobId(), "alice", spec)), 1);
    assert.equal(store.load().length, 1);
    store.close();
    const again = SqliteStore.open(":memory:");
    assert.equal(again.load().length, 0);
    again.close();
  });
});
