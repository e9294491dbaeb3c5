// The job's environment from `jobexec start --env` and `--env-file`: NAME=VALUE as given, NAME alone taken from our
// own environment, and files of NAME=VALUE lines, so that a secret need not sit on the command line (where `ps` and
// the shell's history show it). Messages never quote a value or a file's line: they may be secrets.
import { readFileSync } from "node:fs";
import { CliError } from "./errors.ts";

/** An environment variable for the job. */
export type EnvEntry = [name: string, value: string];

function badName(name: string): string | undefined {
  if (name === "") return "the name is empty";
  if (name.includes("\0")) return "the name contains NUL";
  if (/\s/.test(name)) return "the name contains white space";
  return undefined;
}

/**
 * One `--env` value: `NAME=VALUE`, or `NAME` alone for the value NAME has in `environ` (our environment); a usage
 * error when the name is empty or NAME is not set there.
 */
export function envFromFlag(input: string, environ: Record<string, string | undefined> = process.env): EnvEntry {
  const eq = input.indexOf("=");
  if (eq === -1) {
    const problem = badName(input);
    if (problem !== undefined) throw new CliError("usage", `--env: "${input}" is not NAME=VALUE or NAME: ${problem}`);
    const value = environ[input];
    if (value === undefined) {
      throw new CliError("usage", `--env ${input}: ${input} is not set in this environment; export it first, or give --env ${input}=VALUE or --env-file FILE`);
    }
    return [input, value];
  }
  const name = input.slice(0, eq);
  const value = input.slice(eq + 1);
  if (eq === 0 || input.includes("\0")) {
    throw new CliError("usage", `--env: "${input}" is not NAME=VALUE (the name must not be empty or contain "=", and neither may contain NUL)`);
  }
  return [name, value];
}

/**
 * The variables of an env file, in order: one `NAME=VALUE` a line, the value verbatim to the end of the line (no
 * quotes are removed, a final CR is), blank lines and lines starting with `#` skipped. A usage error names the file
 * and the line number (never the line: it may hold a secret) when it cannot be read or a line is not NAME=VALUE.
 */
export function readEnvFile(path: string): EnvEntry[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (err as Error).message;
    throw new CliError("usage", `--env-file ${path}: cannot read it: ${why}`, { cause: err });
  }
  const entries: EnvEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const where = `--env-file ${path}: line ${String(index + 1)}`;
    const eq = line.indexOf("=");
    if (eq === -1) throw new CliError("usage", `${where} is not NAME=VALUE (it has no "="); comments start with #`);
    const name = line.slice(0, eq);
    const problem = badName(name);
    if (problem !== undefined) throw new CliError("usage", `${where} is not NAME=VALUE: ${problem}`);
    if (line.includes("\0")) throw new CliError("usage", `${where}: the value contains NUL`);
    entries.push([name, line.slice(eq + 1)]);
  });
  return entries;
}
