import { closest } from "@jobexec/proto/suggest";
import { ServerError } from "../error.ts";

/**
 * A usage ServerError for what node:util's parseArgs refused, in the CLI's words: an unknown flag with its near miss
 * among `known` (`unknown flag --listn; did you mean --listen?`), and where the help is.
 */
export function flagError(cause: unknown, known: readonly string[], help: string): ServerError {
  const message = (cause as Error).message;
  const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
  if (unknown !== undefined) {
    const near = unknown.startsWith("--") ? closest(unknown.split("=")[0] as string, known.map((name) => `--${name}`)) : undefined;
    return new ServerError("usage", `unknown flag ${unknown}${near === undefined ? "" : `; did you mean ${near}?`} (see ${help})`, { cause });
  }
  return new ServerError("usage", `${message}; see ${help}`, { cause });
}
