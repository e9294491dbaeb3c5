#!/usr/bin/env node
// cgexec [--status-fd=N] CGROUP_DIR COMMAND [ARGS...]: join a cgroup v2, then become COMMAND.
// It runs on the path of every job start: keep its imports to node:fs and these small files.
import { writeSync } from "node:fs";
import { parseOptions, parseTarget } from "./args.ts";
import { CgexecError } from "./cgexec-error.ts";
import { restoreDefaultSignals } from "./default-signals.ts";
import { planExec } from "./exec-plan.ts";
import { findCommand } from "./find-command.ts";
import { joinCgroup } from "./join-cgroup.ts";
import { checkStatusFd, closeStatusFd } from "./status-fd.ts";
import { usage } from "./usage.ts";

function main(args: readonly string[]): void {
  let statusFd: number | undefined;
  try {
    if (args.length === 0) {
      writeSync(2, usage);
      process.exitCode = 125;
      return;
    }
    const options = parseOptions(args);
    if (options.help) {
      writeSync(1, usage);
      return;
    }
    if (options.statusFd !== undefined) {
      // A bad descriptor is reported on stderr: it cannot carry its own failure.
      checkStatusFd(options.statusFd);
      statusFd = options.statusFd;
    }
    const target = parseTarget(args.slice(options.operands));
    if (typeof process.execve !== "function") {
      throw new CgexecError(125, `process.execve needs Node >= 22.15, this is ${process.version}`);
    }
    // Find the command before joining: a failure then leaves nothing behind in the cgroup.
    const plan = planExec(findCommand(target.argv[0], process.env.PATH), target.argv);
    joinCgroup(target.cgroupDir, process.pid);
    restoreDefaultSignals();
    if (statusFd !== undefined) closeStatusFd(statusFd);
    process.execve(plan.file, [...plan.args]);
  } catch (err) {
    report(err, statusFd);
  }
}

/** Print the one-line failure (bare on the status fd, prefixed on stderr) and set the exit code. */
function report(err: unknown, statusFd: number | undefined): void {
  const failure = err instanceof CgexecError ? err : new CgexecError(125, String(err), { cause: err });
  process.exitCode = failure.code;
  if (statusFd !== undefined) {
    try {
      writeSync(statusFd, `${failure.message}\n`);
      return;
    } catch {
      // The status fd is unusable: fall back to stderr rather than lose the message.
    }
  }
  writeSync(2, `cgexec: ${failure.message}\n`);
}

main(process.argv.slice(2));
