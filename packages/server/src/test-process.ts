// Shared by the tests that run jobexec-server as a child process (main.ts on this Node): start it, read its log
// lines, wait for them. Not part of the build.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** main.ts of this package. */
export const serverMain = join(import.meta.dirname, "main.ts");

/** A server child: its JSON log lines, every stderr line, and its exit code. */
export interface ServerChild {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exit: Promise<number | null>;
}

/** Options of {@link launchServer}. */
export interface LaunchOptions {
  /**
   * Start the server holding this file open as descriptor 251 without close-on-exec, as a launcher that leaks one
   * (bash's `exec 251<>FILE`) would hand it over.
   */
  leak?: string;
}

/** Starts `jobexec-server ARGS` with `env` on top of this process's environment. */
export function launchServer(args: string[], env: Record<string, string>, options: LaunchOptions = {}): ServerChild {
  const argv = [process.execPath, serverMain, ...args];
  const spawned =
    options.leak === undefined
      ? spawn(argv[0] as string, argv.slice(1), { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] })
      : spawn("bash", ["-c", 'exec 251<>"$0"; exec "$@"', options.leak, ...argv], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: spawned.stderr as NodeJS.ReadableStream }).on("line", (line) => {
    stderr.push(line);
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line: start-up failures are plain sentences.
    }
  });
  const exit = new Promise<number | null>((resolve) => spawned.once("exit", (code) => resolve(code)));
  return { proc: spawned, lines, stderr, exit };
}

/** Polls `find` until it returns something; fails the test after `ms`. */
export async function waitFor<T>(find: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) assert.fail("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits for the child's "listening" line, failing at once (with its stderr) if it exits first. */
export async function listening(child: ServerChild): Promise<{ url: string }> {
  let exited = false;
  void child.exit.then(() => (exited = true));
  const line = await waitFor(() => (exited ? assert.fail(`the server exited:\n${child.stderr.join("\n")}`) : child.lines.find((l) => l.msg === "listening")));
  return line as { url: string };
}

/** Whether `pid` is a live process (a zombie runs nothing). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
}
