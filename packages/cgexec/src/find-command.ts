import { accessSync, constants, statSync } from "node:fs";
import { CgexecError, reasonOf } from "./cgexec-error.ts";

/** The search path execvp(3) uses when PATH is unset (glibc's confstr _CS_PATH). */
export const defaultSearchPath = "/bin:/usr/bin";

// The errors on which execvp(3) goes on to the next PATH entry as if the file were absent.
const absent = new Set(["ENOENT", "ENOTDIR", "ESTALE", "ENODEV", "ETIMEDOUT"]);

/**
 * Find the file execvp(3) would execute for `command` with search path `path` (the value of
 * PATH; `undefined` when unset). A command containing "/" is used as is; otherwise each entry
 * is tried in order, an empty entry meaning the current directory. Like execvp, an entry that
 * holds a directory or a non-executable file is skipped, and only reported (126) when no later
 * entry has the command. Throws CgexecError 127 when nothing is found, 126 when what is found
 * cannot be executed.
 */
export function findCommand(command: string, path: string | undefined): string {
  if (command === "") throw new CgexecError(127, `"": command not found`);
  if (command.includes("/")) {
    const problem = checkExecutable(command);
    if (problem !== undefined) throw problem;
    return command;
  }
  let denied: CgexecError | undefined;
  for (const dir of (path ?? defaultSearchPath).split(":")) {
    const candidate = dir === "" ? `./${command}` : `${dir}/${command}`;
    const problem = checkExecutable(candidate);
    if (problem === undefined) return candidate;
    if (problem.code === 127) continue;
    const code = (problem.cause as NodeJS.ErrnoException | undefined)?.code;
    // execvp gives up at once on errors other than "absent" or "permission denied".
    if (code !== undefined && code !== "EACCES") throw problem;
    denied ??= problem;
  }
  throw denied ?? new CgexecError(127, `${command}: command not found`);
}

/**
 * Why `file` cannot be executed, or `undefined` when it can: 127 when it does not exist, 126 when
 * it is not a regular file or lacks execute permission (or another error such as ELOOP occurs).
 * These are the checks execve(2) would fail on; Node's process.execve aborts instead of throwing.
 */
export function checkExecutable(file: string): CgexecError | undefined {
  try {
    const stats = statSync(file);
    if (!stats.isFile()) {
      return new CgexecError(126, `${file}: ${stats.isDirectory() ? "is a directory" : "not a regular file"}`);
    }
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    return new CgexecError(absent.has(code) ? 127 : 126, `${file}: ${reasonOf(err)}`, { cause: err });
  }
}
