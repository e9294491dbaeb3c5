// Jobs without cgroups run in their own session: they are signalled and awaited as a process group.
import { setTimeout as sleep } from "node:timers/promises";
import { errnoCode } from "../cgroup/cgroup-fs.ts";

/** Sends `signal` to a process group; a group that is gone has nothing to signal. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if (errnoCode(err) !== "ESRCH") throw err;
  }
}

/**
 * Waits (up to a second) until no process of a group is left; signal 0 fails with ESRCH then. Only for
 * jobs without a cgroup, whose end cannot be watched; zombies waiting for init to reap them still count.
 */
export async function waitGroupGone(pgid: number): Promise<void> {
  for (let waited = 0; waited < 1000; waited += 10) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await sleep(10);
  }
}
