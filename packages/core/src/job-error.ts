/** What went wrong, named so a server can map it to a status code without parsing messages. */
export type JobErrorCode = "not_found" | "invalid_argument" | "failed_precondition" | "resource_exhausted" | "internal";

/** The one error class of @jobexec/core. `cause` carries the underlying error when there is one. */
export class JobError extends Error {
  override readonly name = "JobError";
  readonly code: JobErrorCode;

  constructor(code: JobErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
