// The state file's schema, one forward migration per version; `PRAGMA user_version` says which ran.
import type { DatabaseSync } from "node:sqlite";
import { JobError } from "../job-error.ts";

/**
 * Migration N (index N-1) takes the schema from version N-1 to N. Never edit one that was released: add the next.
 * Version 1 has a column for everything a job reports (its account's name, uid and gid included); JSON text holds
 * values that are read and written whole (args, limits, usage).
 */
export const migrations: readonly string[] = [
  `CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    account TEXT,
    uid INTEGER,
    gid INTEGER,
    program TEXT NOT NULL,
    args TEXT NOT NULL,
    cwd TEXT NOT NULL,
    output_mode TEXT NOT NULL,
    limits TEXT NOT NULL,
    isolation TEXT,
    max_output_bytes INTEGER NOT NULL,
    timeout_ms INTEGER,
    state TEXT NOT NULL,
    pid INTEGER NOT NULL,
    pid_start_ticks INTEGER,
    cgroup TEXT,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    ended_at INTEGER,
    end_time_approximate INTEGER NOT NULL,
    exit_code INTEGER,
    signal TEXT,
    exit_status_unknown_reason TEXT,
    oom_killed INTEGER NOT NULL,
    stop_reason TEXT,
    stopped_by TEXT,
    failure_reason TEXT,
    usage TEXT NOT NULL,
    stdout_bytes INTEGER NOT NULL,
    stderr_bytes INTEGER NOT NULL
  ) STRICT`,
  // Version 2, usage (issue 22): the usage timeline of an ended job (JSON, see job-row.ts); the richer final usage
  // lives in the usage JSON.
  `ALTER TABLE jobs ADD COLUMN timeline TEXT`,
  // Version 3, the queue (issue 21): a queued job keeps its request as given (environment included: it is needed at
  // its start, and cleared then) and its owner's quota, and every job its priority.
  `ALTER TABLE jobs ADD COLUMN queued_request TEXT;
  ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0`,
];

/** The schema version this code writes. */
export const schemaVersion = migrations.length;

/**
 * Brings the database at `path` up to {@link schemaVersion}, each step in its own transaction. A file written by a
 * newer version, or another program's database, is refused (JobError "failed_precondition") before anything is
 * written: this code would not know what it holds.
 */
export function migrate(db: DatabaseSync, path: string): void {
  const { user_version: version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
  if (version > schemaVersion) {
    throw new JobError(
      "failed_precondition",
      `state file ${path} has schema version ${String(version)}, newer than the ${String(schemaVersion)} this jobexec knows: run the newer jobexec, or move the file away to start with no records`,
    );
  }
  if (version === 0 && db.prepare("SELECT 1 FROM sqlite_schema LIMIT 1").get() !== undefined) {
    // Some other program's database: writing our schema into it would be a silent mix-up.
    throw new JobError("failed_precondition", `state file ${path} is a SQLite database of some other program (it has tables but no jobexec schema version): move it away or choose another file`);
  }
  for (let v = version; v < schemaVersion; v++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(migrations[v] as string);
      db.exec(`PRAGMA user_version = ${String(v + 1)}`);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
  }
}
