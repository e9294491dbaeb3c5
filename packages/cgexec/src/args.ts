import { CgexecError } from "./cgexec-error.ts";

/** The options before CGROUP_DIR, and where the operands start. */
export interface Options {
  readonly help: boolean;
  /** The descriptor to report a failure on, if `--status-fd` was given. */
  readonly statusFd: number | undefined;
  /** Index in the arguments of CGROUP_DIR. */
  readonly operands: number;
}

/** The operands: where to go and what to run. */
export interface Target {
  readonly cgroupDir: string;
  /** COMMAND followed by its ARGS: the argv of the target, verbatim. */
  readonly argv: readonly [string, ...string[]];
}

const synopsis = "usage: cgexec [--status-fd=N] [--] CGROUP_DIR COMMAND [ARGS...]";

/**
 * Parse the options of cgexec's arguments (without node and the script path). Options stop at
 * the first operand or after "--". Throws CgexecError 125 on a bad option.
 */
export function parseOptions(args: readonly string[]): Options {
  let statusFd: number | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") return { help: false, statusFd, operands: i + 1 };
    if (arg === "-h" || arg === "--help") return { help: true, statusFd, operands: i + 1 };
    if (arg === "--status-fd" || arg.startsWith("--status-fd=")) {
      statusFd = parseFd(arg === "--status-fd" ? args[++i] : arg.slice("--status-fd=".length));
    } else if (arg.startsWith("-") && arg !== "-") {
      throw new CgexecError(125, `unknown option ${arg} (${synopsis})`);
    } else {
      break;
    }
  }
  return { help: false, statusFd, operands: i };
}

/** Parse the operands that follow the options. Throws CgexecError 125 when one is missing. */
export function parseTarget(operands: readonly string[]): Target {
  const [cgroupDir, command, ...args] = operands;
  if (cgroupDir === undefined || command === undefined) {
    throw new CgexecError(125, `missing ${cgroupDir === undefined ? "CGROUP_DIR and " : ""}COMMAND (${synopsis})`);
  }
  if (cgroupDir === "") throw new CgexecError(125, `empty CGROUP_DIR (${synopsis})`);
  return { cgroupDir, argv: [command, ...args] };
}

function parseFd(value: string | undefined): number {
  // Descriptors 0-2 are the target's stdio: closing one before exec would break it.
  if (value === undefined || !/^\d{1,9}$/.test(value) || Number(value) < 3) {
    throw new CgexecError(125, `--status-fd needs a descriptor number >= 3, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}
