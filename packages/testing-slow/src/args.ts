import { SlowError } from "./slow-error.ts";

/** What the command line asks slow to do. */
export interface SlowOptions {
  readonly help: boolean;
  /** Number of numbered lines. */
  readonly lines: number;
  /** Exit status, 0..255. */
  readonly code: number;
  /** Milliseconds between lines. */
  readonly interval: number;
  /** Bytes to write instead of lines, if `--bytes` was given. */
  readonly bytes: number | undefined;
  readonly firstLine: boolean;
  readonly ignoreTerm: boolean;
  readonly background: boolean;
  /** Children to start and keep. */
  readonly fork: number;
  /** MiB to allocate and touch. */
  readonly alloc: number;
  /** Seconds to keep a CPU busy. */
  readonly spin: number;
}

const defaults: SlowOptions = {
  help: false,
  lines: 0,
  code: 0,
  interval: 1000,
  bytes: undefined,
  firstLine: false,
  ignoreTerm: false,
  background: false,
  fork: 0,
  alloc: 0,
  spin: 0,
};

const flags = { "--first-line": "firstLine", "--ignore-term": "ignoreTerm", "--background": "background" } as const;
const valued = new Set(["--interval", "--bytes", "--fork", "--alloc", "--spin"]);

/** Parse slow's arguments (without node and the script path). Throws SlowError on bad ones. */
export function parseArgs(args: readonly string[]): SlowOptions {
  const seen = new Map<string, string>();
  const switches = { firstLine: false, ignoreTerm: false, background: false };
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-h" || arg === "--help") return { ...defaults, help: true };
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    if (name in flags && name === arg) {
      switches[flags[name as keyof typeof flags]] = true;
    } else if (valued.has(name)) {
      const value = name === arg ? args[++i] : arg.slice(eq + 1);
      if (value === undefined) throw new SlowError(`${name} needs a value`);
      seen.set(name, value);
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new SlowError(`unknown option ${arg}`);
    } else {
      positional.push(arg);
    }
  }
  const bytes = seen.has("--bytes") ? count("--bytes", seen.get("--bytes")) : undefined;
  // With --bytes there are no numbered lines: the one positional left is CODE.
  const [n, code] = bytes === undefined ? positional : [undefined, ...positional];
  if (positional.length > (bytes === undefined ? 2 : 1)) throw new SlowError(`too many arguments: ${positional.join(" ")}`);
  if (n === undefined && bytes === undefined) throw new SlowError("missing N");
  const lines = n === undefined ? 0 : count("N", n);
  const exitCode = code === undefined ? 0 : count("CODE", code);
  if (exitCode > 255) throw new SlowError(`CODE must be 0..255, got ${code}`);
  return {
    ...defaults,
    ...switches,
    lines,
    code: exitCode,
    bytes,
    interval: seen.has("--interval") ? decimal("--interval", seen.get("--interval")) : defaults.interval,
    fork: seen.has("--fork") ? count("--fork", seen.get("--fork")) : defaults.fork,
    alloc: seen.has("--alloc") ? count("--alloc", seen.get("--alloc")) : defaults.alloc,
    spin: seen.has("--spin") ? decimal("--spin", seen.get("--spin")) : defaults.spin,
  };
}

/** A non-negative integer. */
function count(name: string, value: string | undefined): number {
  if (value === undefined || !/^\d{1,15}$/.test(value)) {
    throw new SlowError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** A non-negative decimal number. */
function decimal(name: string, value: string | undefined): number {
  if (value === undefined || !/^(\d+\.?\d*|\.\d+)$/.test(value)) {
    throw new SlowError(`${name} must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
