import { errnoCode } from "./cgroup/cgroup-fs.ts";

/** What went wrong, named so a server can map it to a status code without parsing messages. */
export type JobErrorCode = "not_found" | "invalid_argument" | "failed_precondition" | "permission_denied" | "resource_exhausted" | "internal";

/** The one error class of @jobexec/core. `cause` carries the underlying error when there is one. */
export class JobError extends Error {
  override readonly name = "JobError";
  readonly code: JobErrorCode;

  constructor(code: JobErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

// System errors that mean the host ran short of something, not that jobexec is broken.
const exhaustionCodes = new Set(["EAGAIN", "ENOMEM", "EMFILE", "ENFILE", "ENOSPC", "EDQUOT"]);

/** `err` as a JobError: itself when it is one, else "resource_exhausted" or "internal", prefixed by `what`. */
export function toJobError(what: string, err: unknown): JobError {
  if (err instanceof JobError) return err;
  const code = errnoCode(err);
  return new JobError(code !== undefined && exhaustionCodes.has(code) ? "resource_exhausted" : "internal", `${what}: ${String(err)}`, {
    cause: err,
  });
}
