// Checking the options of an output read before any file is opened.
import { JobError } from "../job-error.ts";
import type { OutputOptions, StreamName } from "../types.ts";

function checkOffset(what: string, value: unknown): void {
  if (value !== undefined && !(typeof value === "number" && Number.isSafeInteger(value) && value >= 0)) {
    throw new JobError("invalid_argument", `${what} must be a whole number >= 0`);
  }
}

/** The streams `options` asks for; throws JobError "invalid_argument" for a bad stream or start. */
export function checkOutputOptions(options: OutputOptions): StreamName[] {
  const stream = options.stream ?? "both";
  if (stream !== "both" && stream !== "stdout" && stream !== "stderr") {
    throw new JobError("invalid_argument", `stream must be "stdout", "stderr" or "both"`);
  }
  const from = options.from;
  if (from !== undefined) {
    if ("tailLines" in from) checkOffset("tailLines", from.tailLines);
    else {
      checkOffset("from.stdout", from.stdout);
      checkOffset("from.stderr", from.stderr);
    }
  }
  return stream === "both" ? ["stdout", "stderr"] : [stream];
}
