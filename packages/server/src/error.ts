/** What went wrong, for callers that branch on it. */
export type ServerErrorCode =
  /** A flag, environment variable or argument is invalid. */
  | "usage"
  /** A certificate or key file is missing, unreadable, invalid, expired or does not match. */
  | "tls"
  /** The listen address is taken or not ours to bind. */
  | "listen"
  /** A file would be overwritten without --force. */
  | "exists"
  /** Anything else: an I/O failure or a bug. */
  | "internal";

/** The one error class of @jobexec/server: a sentence a person can act on, a code, and the cause. */
export class ServerError extends Error {
  override name = "ServerError";
  readonly code: ServerErrorCode;

  constructor(code: ServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
