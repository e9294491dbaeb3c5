// The data directory as the accounts of jobs need it: every directory down to their homes searchable by them.
import { stat } from "node:fs/promises";
import { realpath } from "node:fs/promises";
import { dirname } from "node:path";
import { JobError } from "../job-error.ts";

/**
 * Checks that every directory from "/" down to `dataDir` (and down to where it resolves) is searchable by other
 * users (mode o+x), as the uid of a job, which is in no group of the host, must pass through them to reach its
 * home. Throws JobError "invalid_argument" with one sentence naming the first one that is not.
 */
export async function checkReachableByJobs(dataDir: string): Promise<void> {
  const real = await realpath(dataDir);
  const dirs = new Set<string>();
  for (const path of [dataDir, real]) {
    for (let dir = path; ; dir = dirname(dir)) {
      dirs.add(dir);
      if (dir === "/") break;
    }
  }
  for (const dir of [...dirs].sort((a, b) => a.length - b.length)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      const octal = (mode & 0o7777).toString(8).padStart(4, "0");
      throw new JobError(
        "invalid_argument",
        `the data directory ${dataDir} is out of reach of jobs' accounts: ${dir} (mode ${octal}) is not searchable by other users; ` +
          `run chmod o+x ${dir}, choose another data directory, or run jobs as the server's user (run-as server)`,
      );
    }
  }
}
