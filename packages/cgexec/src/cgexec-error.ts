/** Exit status of a cgexec failure, chosen like env(1) and chroot(8) do. */
export type CgexecExitCode =
  /** Usage error, or the cgroup could not be joined. */
  | 125
  /** COMMAND was found but cannot be executed (a directory, no execute permission). */
  | 126
  /** COMMAND (or its script interpreter) was not found. */
  | 127;

/**
 * The one error cgexec raises for its own failures. `code` is the exit status cgexec ends with;
 * `message` is the one line it prints (after "cgexec: " on stderr, bare on the status fd).
 */
export class CgexecError extends Error {
  override name = "CgexecError";
  readonly code: CgexecExitCode;

  constructor(code: CgexecExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The short reason of a failed system call ("no such file or directory"), for one-line messages. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error && "errno" in err && typeof err.errno === "number") {
    // node:util is only needed on this failure path: load it lazily to keep start-up minimal.
    return process.getBuiltinModule("node:util").getSystemErrorMessage(err.errno);
  }
  return err instanceof Error ? err.message : String(err);
}
