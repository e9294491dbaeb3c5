/** What went wrong, as a stable name; {@link exitCodeOf} maps it to the process exit code. */
export type CliErrorCode =
  /** The command line is wrong: bad flag value, missing program, unknown flag. Nothing was sent. */
  | "usage"
  /** A credential file (certificate, key, CA) is missing or unreadable. */
  | "credentials"
  /** The contexts file is unreadable, malformed, or cannot be written. */
  | "config"
  /** The server could not be reached (refused, unresolvable, timed out, reset). */
  | "unreachable"
  /** The TLS handshake failed, on our side or the server's. */
  | "tls"
  /** The job does not exist, or belongs to another user. */
  | "not-found"
  /** The caller's identity may not do this. */
  | "permission-denied"
  /** The server refused the request's content (e.g. program not found). */
  | "invalid-argument"
  /** The job was made but could not be started (a FAILED record: a bad interpreter, an isolation step that failed). */
  | "failed-to-start"
  /** Any other failure reported by the server or the transport. */
  | "failed"
  /** The user pressed Ctrl-C. */
  | "interrupted";

/** The one error class of the CLI: a one-line, actionable message, a stable code, and the underlying cause. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Exit status of the process for an error code: 2 for usage errors, 126 for a job that failed to start (as a shell's
 * "found but cannot be executed"), 130 for Ctrl-C, 1 otherwise.
 */
export function exitCodeOf(code: CliErrorCode): number {
  switch (code) {
    case "usage":
      return 2;
    case "failed-to-start":
      return 126;
    case "interrupted":
      return 130;
    default:
      return 1;
  }
}
