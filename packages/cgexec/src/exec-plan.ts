import { closeSync, constants, openSync, readSync } from "node:fs";
import { CgexecError } from "./cgexec-error.ts";
import { checkExecutable } from "./find-command.ts";

/** The arguments for process.execve. */
export interface ExecPlan {
  readonly file: string;
  readonly args: readonly string[];
}

// The kernel reads at most this much of a file to recognise it (BINPRM_BUF_SIZE).
const headerSize = 256;
const shell = "/bin/sh";

/**
 * How to execute `file` (found for `argv[0]`) so that execve(2) cannot fail on it, since Node's
 * process.execve aborts the process when it does: an ELF file is executed directly; a "#!" script
 * too, once its interpreter is checked (a missing one is 127, like execvp's ENOENT); any other
 * file is run by /bin/sh, as execvp(3) does on ENOEXEC. Throws CgexecError for a bad interpreter.
 */
export function planExec(file: string, argv: readonly [string, ...string[]]): ExecPlan {
  const header = readHeader(file);
  if (header === undefined || header.subarray(0, 4).toString("latin1") === "\x7fELF") return { file, args: argv };
  const interpreter = /^#![ \t]*([^ \t\n\0]+)/.exec(header.toString("latin1"))?.[1];
  if (interpreter === undefined) return { file: shell, args: [shell, file, ...argv.slice(1)] };
  const problem = checkExecutable(interpreter);
  if (problem !== undefined) {
    throw new CgexecError(problem.code, `${file}: bad interpreter ${problem.message}`, { cause: problem.cause });
  }
  return { file, args: argv };
}

/** The first bytes of `file`, or `undefined` when we may not read it (execute-only): leave it to the kernel. */
function readHeader(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY);
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(headerSize);
    return header.subarray(0, readSync(fd, header, 0, headerSize, 0));
  } finally {
    closeSync(fd);
  }
}
