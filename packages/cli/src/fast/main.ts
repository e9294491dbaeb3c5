// The entry point of dist/fast.cjs (build/fast.ts): runs the everyday commands (fast-commands.ts) without loading
// oclif, whose configuration, plugins and parser cost more than the command itself. Whatever this path does not
// fully understand (an unknown flag, --help, a value oclif would refuse, DEBUG output) it leaves to oclif, so that
// every message is oclif's own; JOBEXEC_NO_FAST_PATH=1 leaves everything to oclif (a debugging aid).
import { exitQuietlyOnEpipe } from "../quiet-epipe.ts";
import { fastCommands, type CommandClass } from "./fast-commands.ts";
import { flagTable } from "./flag-table.ts";
import { ExitError } from "./lite-oclif/errors.ts";
import { parseArgv, type Parsed } from "./parse-argv.ts";

/** A command line the fast path runs: the command's id and its words. */
export interface Plan {
  id: string;
  argv: string[];
  parsed: Parsed;
}

/** The fast path's plan for a command line (without the program name), or undefined to leave it to oclif. */
export function plan(words: readonly string[], env: NodeJS.ProcessEnv = process.env): Plan | undefined {
  if (env.JOBEXEC_NO_FAST_PATH || env.DEBUG) return undefined;
  const [id = "", ...argv] = words;
  const spec = Object.hasOwn(flagTable(), id) ? flagTable()[id] : undefined;
  if (spec === undefined) return undefined;
  // `start` passes everything after the first "--" to the job (it splits the words itself).
  const dashes = id === "start" ? argv.indexOf("--") : -1;
  const parsed = parseArgv(spec, dashes === -1 ? argv : argv.slice(0, dashes), env);
  return parsed && { id, argv, parsed };
}

/** Waits until what was written to a stream has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

/**
 * Runs the command line on the fast path if it can, and then exits the process as soon as its output is flushed;
 * returns false at once, having done nothing, when the command line is oclif's.
 */
export async function runFast(words: readonly string[]): Promise<boolean> {
  const fast = plan(words);
  if (fast === undefined) return false;
  exitQuietlyOnEpipe();
  const Command = (await fastCommands[fast.id]?.())?.default as CommandClass;
  Command.id = fast.id;
  try {
    await new Command(fast.argv)._run();
  } catch (error) {
    // Commands report their own failures and end with this.exit(code); anything else is a bug, reported as oclif does.
    if (error instanceof ExitError) process.exitCode = error.oclif.exit ?? 1;
    else {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    }
  }
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  // The connection is closed; waiting for its sockets and timers to wind down would only delay the exit.
  process.exit();
}
