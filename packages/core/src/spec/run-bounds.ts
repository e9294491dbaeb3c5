// A job's output limit and timeout: what the spec asks for, checked against the manager's defaults and ceilings.
import { JobError } from "../job-error.ts";
import type { JobSpec } from "../types.ts";

/** The manager's settings a spec's maxOutputBytes and timeoutMs are checked against. */
export interface RunBounds {
  /** Default and ceiling of a job's output limit, in bytes. */
  maxOutputBytes: number;
  /** Ceiling of a job's timeout (and the timeout of a job that asks for none), in milliseconds. */
  maxTimeoutMs: number | undefined;
}

/** The output limit and timeout a job gets; JobError "invalid_argument" for a value out of range. */
export function checkRunBounds(spec: Pick<JobSpec, "maxOutputBytes" | "timeoutMs">, bounds: RunBounds): { maxOutputBytes: number; timeoutMs?: number } {
  const { maxOutputBytes = bounds.maxOutputBytes, timeoutMs = bounds.maxTimeoutMs } = spec;
  if (!(Number.isSafeInteger(maxOutputBytes) && maxOutputBytes > 0)) {
    throw new JobError("invalid_argument", `maxOutputBytes must be a positive whole number of bytes, not ${String(maxOutputBytes)}`);
  }
  if (maxOutputBytes > bounds.maxOutputBytes) {
    throw new JobError("invalid_argument", `the output limit of ${String(maxOutputBytes)} bytes exceeds the server's maximum of ${String(bounds.maxOutputBytes)} bytes`);
  }
  if (timeoutMs === undefined) return { maxOutputBytes };
  if (!(Number.isSafeInteger(timeoutMs) && timeoutMs > 0)) {
    throw new JobError("invalid_argument", `timeoutMs must be a positive whole number of milliseconds, not ${String(timeoutMs)}`);
  }
  if (bounds.maxTimeoutMs !== undefined && timeoutMs > bounds.maxTimeoutMs) {
    throw new JobError("invalid_argument", `the timeout of ${String(timeoutMs)} ms exceeds the server's maximum of ${String(bounds.maxTimeoutMs)} ms`);
  }
  return { maxOutputBytes, timeoutMs };
}
