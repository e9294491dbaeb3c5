// What a job's account can learn about a path, for StartJob's checks: the server (root) sees every path, but a
// request must not learn through it whether something exists where the job's account cannot look (`--cwd
// /root/.ssh`). A path behind a directory the account may not search is answered exactly like a missing one.
import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { type Credentials, unsearchableOnTheWay } from "../accounts/path-access.ts";

/** The words every check uses for a path that is missing or out of the account's reach: one message for both. */
export const UNREACHABLE = "does not exist or is not reachable by the job's account";

/**
 * `path`'s stats (following links) when `who` could reach it: every directory on the way to it, as written and as
 * resolved, searchable by `who`. Undefined when it does not exist or is out of reach, which `who` cannot tell apart.
 */
export async function statAs(path: string, who: Credentials): Promise<Stats | undefined> {
  if ((await unsearchableOnTheWay(path, who)) !== undefined) return undefined;
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}
