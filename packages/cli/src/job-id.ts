import { CliError } from "./errors.ts";

/** A job id as the server assigns them: a lowercase UUID. */
export const jobIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Checks that a job id argument is a UUID as the server assigns them, and returns it in lower case. */
export function parseJobId(text: string): string {
  const id = text.trim().toLowerCase();
  if (!jobIdPattern.test(id)) {
    throw new CliError("usage", `"${text}" is not a job id; job ids are UUIDs as printed by \`jobexec start\` and \`jobexec list\``);
  }
  return id;
}
