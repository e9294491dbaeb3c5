import { stripVTControlCharacters } from "node:util";
import type { Errors } from "@oclif/core";
import { CliError } from "./errors.ts";
import { closest } from "@jobexec/proto/suggest";

/** The parts of a command that usage errors name. */
export interface CommandShape {
  readonly id: string;
  readonly flags: Readonly<Record<string, { readonly char?: string | undefined }>>;
  readonly args: Readonly<Record<string, { readonly description?: string | undefined }>>;
}

/**
 * One line for an oclif parse error (exit 2), in the CLI's style: a missing or unexpected argument says so with
 * the command's usage, an unknown flag or a value not among a flag's options the near miss; anything else is
 * oclif's own text without colours or the help dump. Each ends with where the help is.
 */
export function usageError(error: Errors.CLIError, command: CommandShape): CliError {
  const help = `(see \`jobexec ${command.id} --help\`)`;
  const usage = (): string => [command.id, ...Object.keys(command.args).map((name) => name.toUpperCase())].join(" ");
  // oclif does not export its parser's error classes: they are told apart by what they carry.
  const { args, flags } = error as { args?: unknown; flags?: unknown };
  if (Array.isArray(args) && args.length > 0 && args.every((arg) => typeof arg === "object" && arg !== null && "name" in arg)) {
    const missing = (args as { name: string; description?: string }[]).map((arg) => arg.description?.replace(/\.$/, "").replace(/^./, (c) => c.toLowerCase()) ?? arg.name);
    return new CliError("usage", `${command.id} needs the ${missing.join(" and the ")}: jobexec ${usage()} ${help}`, { cause: error });
  }
  if (Array.isArray(flags) && flags.every((flag) => typeof flag === "string")) {
    const names = Object.keys(command.flags).map((name) => `--${name}`);
    const unknown = (flags as string[]).map((flag) => {
      const name = flag.split("=")[0] as string;
      const near = name.startsWith("--") ? closest(name, [...names, "--help"]) : undefined;
      return near === undefined ? `unknown flag ${name}` : `unknown flag ${name}; did you mean ${near}?`;
    });
    return new CliError("usage", `${unknown.join("; ")} ${help}`, { cause: error });
  }
  if (Array.isArray(args) && args.length > 0 && args.every((arg) => typeof arg === "string")) {
    const words = (args as string[]).map((arg) => JSON.stringify(arg)).join(" ");
    return new CliError("usage", `unexpected argument${args.length === 1 ? "" : "s"} ${words}: jobexec ${usage()} ${help}`, { cause: error });
  }
  const text = stripVTControlCharacters(error.message);
  const option = /^Expected --([\w-]+)=(.*) to be one of: (.*)$/m.exec(text);
  if (option) {
    const [, flag, value = "", choices = ""] = option;
    const near = closest(value, choices.split(", "));
    const hint = near === undefined ? "" : `; did you mean ${near}?`;
    return new CliError("usage", `--${flag}: ${JSON.stringify(value)} is not one of ${choices}${hint} ${help}`, { cause: error });
  }
  const line = text.split("\n").map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("See more help")).join(" ");
  return new CliError("usage", `${line} ${help}`, { cause: error });
}
