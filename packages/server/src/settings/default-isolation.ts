// --default-isolation: the isolation jobs get for the fields their request leaves unset.
import type { IsolationSpec } from "@jobexec/core";
import { ServerError } from "../error.ts";
import { parseSize } from "./limits.ts";

/** The words --default-isolation takes, for help and errors. */
export const ISOLATION_WORDS = "none, or a comma-separated list of network=none, private-tmp[=SIZE], read-only";

/**
 * Parses --default-isolation: "none", or a comma-separated list of `network=none`, `private-tmp` (with `=SIZE` for
 * the tmpfs size, e.g. `private-tmp=128MiB`; default 64 MiB) and `read-only`. What it lists is on for every job whose
 * request leaves that field unset; what it does not list is off.
 */
export function parseDefaultIsolation(text: string): IsolationSpec {
  if (text === "none") return {};
  const out: IsolationSpec = {};
  for (const word of text.split(",").map((w) => w.trim())) {
    const [name, value] = word.includes("=") ? [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)] : [word, undefined];
    if (name === "network" && value === "none") out.privateNetwork = true;
    else if (name === "private-tmp") {
      out.privateTmp = true;
      if (value !== undefined) {
        out.privateTmpBytes = parseSize(value, "--default-isolation private-tmp size");
        if (out.privateTmpBytes === 0) throw new ServerError("usage", `--default-isolation ${JSON.stringify(text)}: the private-tmp size must be above 0`);
      }
    } else if (name === "read-only" && value === undefined) out.readOnlySystem = true;
    else throw new ServerError("usage", `--default-isolation ${JSON.stringify(text)}: ${JSON.stringify(word)} is not one of ${ISOLATION_WORDS}`);
  }
  return out;
}
