// Finding the file a program name stands for, as execvp would, before anything is spawned.
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { JobError } from "../job-error.ts";

type Probe = "ok" | "missing" | "not-executable";

async function probe(path: string): Promise<Probe> {
  try {
    if (!(await stat(path)).isFile()) return "not-executable";
  } catch {
    return "missing";
  }
  try {
    await access(path, constants.X_OK);
    return "ok";
  } catch {
    return "not-executable";
  }
}

/**
 * The absolute path `program` runs as: a name with a slash is taken relative to `cwd`; a bare name is
 * searched in `path`'s directories (relative entries and the empty entry relative to `cwd`). Throws
 * JobError "invalid_argument" when it is not found or not executable.
 */
export async function resolveProgram(program: string, path: string, cwd: string): Promise<string> {
  if (program.includes("/")) {
    const file = resolve(cwd, program);
    const found = await probe(file);
    if (found === "missing") throw new JobError("invalid_argument", `program ${JSON.stringify(program)} not found (${file} does not exist)`);
    if (found === "not-executable") throw new JobError("invalid_argument", `program ${JSON.stringify(program)} is not an executable file`);
    return file;
  }
  let sawNotExecutable = false;
  for (const dir of path.split(":")) {
    const file = join(resolve(cwd, dir), program);
    const found = await probe(file);
    if (found === "ok") return file;
    if (found === "not-executable") sawNotExecutable = true;
  }
  if (sawNotExecutable) throw new JobError("invalid_argument", `program ${JSON.stringify(program)} is not executable (found on PATH without execute permission)`);
  throw new JobError("invalid_argument", `program ${JSON.stringify(program)} not found on PATH ${JSON.stringify(path)}`);
}
