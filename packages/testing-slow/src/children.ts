import type * as childProcessModule from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { writeAll } from "./write-all.ts";

// Long enough to outlive any test; tests and job stops kill them.
const sleeper = ["sleep", "86400"] as const;

// Loaded on demand: most runs of slow start no child, and start-up time matters.
function childProcess(): typeof childProcessModule {
  return process.getBuiltinModule("node:child_process");
}

/**
 * Start a detached "sleep" in its own session that keeps slow's stdout and stderr, like a shell's
 * `sleep 86400 &`, and print "background PID". It outlives slow (only its cgroup can end it).
 */
export function startBackground(): void {
  const child = childProcess().spawn(sleeper[0], sleeper.slice(1), {
    detached: true,
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.unref();
  writeAll(1, `background ${child.pid ?? "failed"}\n`);
}

/**
 * Start `count` "sleep" children that live as long as slow does, then print "forked S of K, F
 * failed" once every start has succeeded or failed (fork fails e.g. under pids.max). Resolves to
 * the children that started; kill them with {@link killChildren}.
 */
export async function forkChildren(count: number): Promise<ChildProcess[]> {
  const { spawn } = childProcess();
  const outcomes = await Promise.all(
    Array.from({ length: count }, () => {
      let child: ChildProcess;
      try {
        child = spawn(sleeper[0], sleeper.slice(1), { stdio: "ignore" });
      } catch {
        // Node throws for the errors it does not report as an "error" event (EAGAIN is an event).
        return undefined;
      }
      return new Promise<ChildProcess | undefined>((resolve) => {
        child.once("spawn", () => resolve(child));
        child.once("error", () => resolve(undefined));
      });
    }),
  );
  const started = outcomes.filter((child) => child !== undefined);
  writeAll(1, `forked ${started.length} of ${count}, ${count - started.length} failed\n`);
  return started;
}

/** Kill the children started by {@link forkChildren}, so a normal exit leaves none behind. */
export function killChildren(children: readonly ChildProcess[]): void {
  for (const child of children) child.kill("SIGKILL");
}
