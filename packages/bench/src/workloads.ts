import { cgexecPath } from "@jobexec/cgexec";
import { jobNode, slowPath } from "@jobexec/testing-slow";

/** A program and its arguments, run the same way by a job and by a baseline. */
export interface Command {
  program: string;
  args: string[];
}

/** A native program that prints "ready" at once and ends: what a job costs without a runtime of its own. */
export const nativeFirstLine: Command = { program: "/bin/echo", args: ["ready"] };

/** `slow --first-line`: prints "ready" as its very first action, then ends. */
export const firstLine: Command = { program: jobNode, args: [slowPath, "0", "--first-line", "--interval", "0"] };

/** `slow --bytes N`: writes N bytes to stdout as fast as it can, then ends. */
export const writeBytes = (bytes: number): Command => ({ program: jobNode, args: [slowPath, "--bytes", String(bytes)] });

/**
 * The fan-out writer `program` (ticker.ts, copied where jobs can read it: `jobProgram`): a timestamped line at once,
 * then (once `goFile` exists, if given) one every `intervalMs`.
 */
export const ticker = (program: string, intervalMs: number, goFile?: string): Command => ({
  program: jobNode,
  args: [program, String(intervalMs), ...(goFile === undefined ? [] : [goFile])],
});

/** A job that just stays running. */
export const sleeper: Command = { program: "sleep", args: ["600"] };

/** The same command placed into a cgroup by cgexec alone, as the service does before exec. */
export const throughCgexec = (cgroup: string, command: Command): Command => ({
  program: process.execPath,
  args: [cgexecPath, cgroup, command.program, ...command.args],
});
