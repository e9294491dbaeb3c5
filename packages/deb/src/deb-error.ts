/** What went wrong building the package. */
export type DebErrorCode =
  /** Something the package is made of is missing: a package not built, the project's Node not installed. */
  | "missing_input"
  /** A tool (pnpm deploy, strip, dpkg-deb) failed. */
  | "tool_failed";

/** The one error class of @jobexec/deb. `cause` carries the underlying error when there is one. */
export class DebError extends Error {
  override readonly name = "DebError";
  readonly code: DebErrorCode;

  constructor(code: DebErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
