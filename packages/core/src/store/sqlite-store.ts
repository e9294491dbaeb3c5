// Job records in one SQLite file through node:sqlite: WAL, synchronous=NORMAL, schema migrated forward at open.
import { chmodSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { JobError } from "../job-error.ts";
import type { JobRow, JobStore } from "./job-store.ts";
import { migrate } from "./migrations.ts";

const columns = [
  "id", "owner", "account", "uid", "gid", "program", "args", "cwd", "output_mode", "limits", "isolation", "max_output_bytes",
  "timeout_ms", "state", "pid", "pid_start_ticks", "cgroup", "created_at", "started_at", "ended_at", "end_time_approximate",
  "exit_code", "signal", "exit_status_unknown_reason", "oom_killed", "stop_reason", "stopped_by", "failure_reason", "usage",
  "stdout_bytes", "stderr_bytes", "timeline", "queued_request", "priority",
] as const satisfies readonly (keyof JobRow)[];

/** The message of whatever node:sqlite threw, for a sentence. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The job store of a data directory: `path` is a file (created when missing), or ":memory:" for records that live
 * as long as the store. WAL with synchronous=NORMAL: a commit survives a crash of the process (not necessarily a
 * power cut of the last ones), and costs an append to the WAL, no fsync.
 */
export class SqliteStore implements JobStore {
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #update: StatementSync;
  readonly #delete: StatementSync;
  readonly #timeline: StatementSync;
  readonly #args: StatementSync;
  readonly #request: StatementSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#insert = db.prepare(`INSERT INTO jobs (${columns.join(", ")}) VALUES (${columns.map((c) => `:${c}`).join(", ")}) RETURNING seq`);
    // The arguments are written once: a finished record does not even hold them (see JobRecord.args). A timeline is
    // written once and never cleared: null keeps the stored one (records loaded back do not hold it).
    const updated = columns.filter((c) => c !== "args");
    // A queued job's request too is written once: an update only clears it.
    const set = (c: string): string =>
      c === "timeline" ? "timeline = COALESCE(:timeline, timeline)" : c === "queued_request" ? "queued_request = CASE WHEN :queued_request IS NULL THEN NULL ELSE queued_request END" : `${c} = :${c}`;
    this.#update = db.prepare(`UPDATE jobs SET ${updated.map(set).join(", ")} WHERE seq = :seq`);
    this.#timeline = db.prepare("SELECT timeline FROM jobs WHERE seq = ?");
    this.#args = db.prepare("SELECT args FROM jobs WHERE seq = ?");
    this.#request = db.prepare("SELECT queued_request FROM jobs WHERE seq = ?");
    this.#delete = db.prepare("DELETE FROM jobs WHERE seq = ?");
  }

  /**
   * Opens (or creates) the store and migrates it. A file that is not a SQLite database, fails its integrity check,
   * cannot be opened, or has a newer schema is refused with JobError "failed_precondition": one sentence naming the
   * file, never a silent reset.
   */
  static open(path: string): SqliteStore {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      // The server's alone: records name programs and arguments, and a queued job's request holds its environment.
      // Set before WAL mode: SQLite gives the -wal and -shm files the database file's mode.
      if (path !== ":memory:") chmodSync(path, 0o600);
      // A writer of another process holds the lock only for a moment; wait for it rather than fail.
      db.exec("PRAGMA busy_timeout = 5000");
      // Checked before anything is written, so that a file refused is left exactly as it was.
      const check = db.prepare("PRAGMA quick_check").all() as { quick_check: string }[];
      if (check.length !== 1 || check[0]?.quick_check !== "ok") {
        throw new Error(`integrity check failed: ${check.map((r) => r.quick_check).slice(0, 3).join("; ")}`);
      }
      migrate(db, path);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      return new SqliteStore(path, db);
    } catch (err) {
      db?.close();
      if (err instanceof JobError) throw err;
      throw new JobError(
        "failed_precondition",
        `state file ${path} cannot be used (${reason(err)}): it is unreadable or not a jobexec state database; restore it, or move it away to start with no records`,
        { cause: err },
      );
    }
  }

  insert(row: Omit<JobRow, "seq">): number {
    return (this.#insert.get({ ...row }) as { seq: number }).seq;
  }

  update(row: Omit<JobRow, "args">): void {
    this.#update.run({ ...row });
  }

  args(seq: number): string | undefined {
    return (this.#args.get(seq) as { args: string } | undefined)?.args;
  }

  queuedRequest(seq: number): string | undefined {
    return (this.#request.get(seq) as { queued_request: string | null } | undefined)?.queued_request ?? undefined;
  }

  delete(seq: number): void {
    this.#delete.run(seq);
  }

  load(): JobRow[] {
    const others = columns.filter((c) => c !== "timeline").join(", ");
    return this.#db.prepare(`SELECT seq, ${others}, NULL AS timeline FROM jobs ORDER BY seq`).all() as unknown as JobRow[];
  }

  timeline(seq: number): string | undefined {
    const row = this.#timeline.get(seq) as { timeline: string | null } | undefined;
    return row?.timeline ?? undefined;
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
