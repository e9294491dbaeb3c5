import type { CommandSpec, FlagSpec } from "./flag-table.ts";

/** A token of the command line, as oclif's parser reports it in `raw`. */
export type Token = { type: "flag"; flag: string; input: string } | { type: "arg"; arg: string | undefined; input: string };

/** What oclif's `this.parse()` returns, for the parts the commands use. */
export interface Parsed {
  flags: Record<string, unknown>;
  args: Record<string, string>;
  argv: string[];
  raw: Token[];
}

/**
 * Parses a command's words (after its id, before any `--` the command splits off itself) as oclif would, or returns
 * undefined when it cannot be sure to: an unknown flag, a missing value, a value oclif would refuse, a missing
 * argument (oclif reads it from stdin), `--help`, anything unusual. Undefined sends the command line to oclif, so
 * that every error, and every message of it, is oclif's own.
 */
export function parseArgv(spec: CommandSpec, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed | undefined {
  const byChar = new Map(Object.values(spec.flags).flatMap((flag) => (flag.char === undefined ? [] : [[flag.char, flag] as const])));
  const raw: Token[] = [];
  const given = (flag: FlagSpec): boolean => raw.some((token) => token.type === "flag" && token.flag === flag.name);
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (!word.startsWith("-") || word === "-") {
      raw.push({ type: "arg", arg: spec.args[positional++]?.name, input: word });
      continue;
    }
    let flag: FlagSpec | undefined;
    let value: string | undefined;
    if (word.startsWith("--")) {
      const equals = word.indexOf("=");
      const name = equals === -1 ? word.slice(2) : word.slice(2, equals);
      value = equals === -1 ? undefined : word.slice(equals + 1);
      flag = spec.flags[name];
      if (flag === undefined && name.startsWith("no-")) {
        const negated = spec.flags[name.slice(3)];
        if (negated?.type === "boolean" && negated.allowNo === true) flag = negated;
      }
    } else if (word.length === 2) {
      flag = byChar.get(word.slice(1));
    }
    // `--`, unknown flags, bundled short flags, oclif features not implemented here.
    if (flag === undefined || flag.unsupported !== undefined) return undefined;
    if (flag.type === "boolean") {
      if (value !== undefined || given(flag)) return undefined;
      raw.push({ type: "flag", flag: flag.name, input: word });
      continue;
    }
    value ??= argv[++i];
    if (value === undefined || value.startsWith("-") || (flag.multiple !== true && given(flag)) || valueOf(flag, value) === undefined) return undefined;
    raw.push({ type: "flag", flag: flag.name, input: value });
  }
  const inputs = raw.filter((token) => token.type === "arg").map((token) => token.input);
  if (spec.args.some((arg, index) => arg.required && index >= inputs.length)) return undefined;
  if (spec.strict && inputs.length > spec.args.length) return undefined;
  const flags: Record<string, unknown> = {};
  for (const flag of Object.values(spec.flags)) {
    const tokens = raw.filter((token) => token.type === "flag" && token.flag === flag.name).map((token) => token.input);
    if (tokens.length > 0 && flag.exclusive?.some((other) => spec.flags[other] !== undefined && given(spec.flags[other]))) return undefined;
    const fromEnv = flag.env === undefined ? undefined : env[flag.env];
    if (tokens.length > 0) {
      if (flag.type === "boolean") flags[flag.name] = !(tokens[0] ?? "").startsWith("--no-");
      else flags[flag.name] = flag.multiple === true ? tokens : valueOf(flag, tokens[0] ?? "");
    } else if (fromEnv !== undefined && fromEnv !== "") {
      // oclif reads booleans from the environment by its own notion of truth, and lists in its own way.
      if (flag.type === "boolean" || flag.multiple === true) return undefined;
      flags[flag.name] = valueOf(flag, fromEnv);
      if (flags[flag.name] === undefined) return undefined;
    } else if (flag.default !== undefined) {
      flags[flag.name] = flag.default;
    }
  }
  const args = Object.fromEntries(spec.args.flatMap((arg, index) => (index < inputs.length ? [[arg.name, inputs[index] ?? ""]] : [])));
  return { flags, args, argv: inputs, raw };
}

/** An option flag's value as oclif parses it, or undefined when oclif would refuse it. */
function valueOf(flag: FlagSpec, input: string): string | number | undefined {
  if (flag.options !== undefined && !flag.options.includes(input)) return undefined;
  if (flag.integer === undefined) return input;
  if (!/^-?\d+$/.test(input)) return undefined;
  const number = Number.parseInt(input, 10);
  const { min, max } = flag.integer;
  return (min !== undefined && number < min) || (max !== undefined && number > max) ? undefined : number;
}
