// Finding the file a program name stands for, as execvp would as the job's account, before anything is spawned.
import { join, resolve } from "node:path";
import { type Credentials, permits } from "../accounts/path-access.ts";
import { JobError } from "../job-error.ts";
import { statAs, UNREACHABLE } from "./reachable.ts";

type Probe = { found: "ok" } | { found: "missing" } | { found: "denied"; why: string };

const EXECUTE = 0o1;

/** Whether `who` could execute `path`: a regular file with its execute bit, every directory on the way searchable. */
async function probe(path: string, who: Credentials): Promise<Probe> {
  // Out of the account's reach is "missing", as it is to the account: nothing tells the caller it exists.
  const stats = await statAs(path, who);
  if (stats === undefined) return { found: "missing" };
  if (!stats.isFile()) return { found: "denied", why: "it is not a regular file" };
  if (!permits(stats, who, EXECUTE)) return { found: "denied", why: `the job's account (uid ${String(who.uid)}) may not execute it` };
  return { found: "ok" };
}

/**
 * The absolute path `program` runs as, found as `who` (the job's account) would find it: a name with a slash is
 * taken relative to `cwd`; a bare name is searched in `path`'s directories (relative entries and the empty entry
 * relative to `cwd`), skipping what `who` may not execute; a file behind a directory `who` may not search counts as
 * missing. Throws JobError "invalid_argument" when it is not found
 * or not executable by `who`. `pathIsTheServers` says whether `path` is the server's PATH, which the message then
 * names without printing it.
 */
export async function resolveProgram(program: string, path: string, cwd: string, who: Credentials, pathIsTheServers: boolean): Promise<string> {
  if (program.includes("/")) {
    const file = resolve(cwd, program);
    const result = await probe(file, who);
    if (result.found === "missing") throw new JobError("invalid_argument", `program ${JSON.stringify(program)} not found (${file} ${UNREACHABLE}, uid ${String(who.uid)})`);
    if (result.found === "denied") throw new JobError("invalid_argument", `program ${JSON.stringify(program)} is not an executable file: ${result.why}`);
    return file;
  }
  let denied: string | undefined;
  for (const dir of path.split(":")) {
    const file = join(resolve(cwd, dir), program);
    const result = await probe(file, who);
    if (result.found === "ok") return file;
    if (result.found === "denied") denied ??= `${file}: ${result.why}`;
  }
  if (denied !== undefined) throw new JobError("invalid_argument", `program ${JSON.stringify(program)} is not executable (found on PATH as ${denied})`);
  const whose = pathIsTheServers ? "the server's PATH" : "the job's PATH";
  throw new JobError("invalid_argument", `program ${JSON.stringify(program)} not found on ${whose}`);
}
