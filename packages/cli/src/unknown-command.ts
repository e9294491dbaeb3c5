import * as Errors from "@oclif/core/errors";
import type { Interfaces } from "@oclif/core";
import { closest } from "@jobexec/proto/suggest";
import { visible } from "./visible.ts";

/**
 * Answers a command name that is not one of ours (`jobexec strat`, `jobexec help strat`, `jobexec strat --help`):
 * one line on stderr in the CLI's own style, with the near miss when there is one, then exit 2 (a usage error).
 */
export function unknownCommand(config: Interfaces.Config, id: string): never {
  // With topics separated by spaces, oclif joins the words after an unknown command into its id ("strat:x"); under
  // a topic that exists ("context:ad"), the unknown command is the topic and the next word.
  const parts = id.split(":");
  const word = parts.slice(0, parts.length > 1 && config.findTopic(parts[0] as string) ? 2 : 1).join(" ");
  // Shown as typed: "context add", not oclif's "context:add".
  const ids = config.commands.filter((command) => !command.hidden).map((command) => command.id.replaceAll(":", config.topicSeparator)).sort();
  const near = closest(word, ids);
  const hint = near === undefined ? `the commands are ${ids.join(", ")}` : `did you mean "${near}"?`;
  process.stderr.write(`jobexec: unknown command "${visible(word)}"; ${hint} (see \`jobexec help\`)\n`);
  return Errors.exit(2);
}
