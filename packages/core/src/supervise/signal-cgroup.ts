// Signalling the processes of a job's cgroup without ever signalling a reused pid.
import { execFile } from "node:child_process";
import { constants } from "node:os";
import { enterHelperPath } from "@jobexec/cgexec";

/**
 * Sends `signal` to every process in cgroup `dir`, through `cgexec-enter --signal=N --cgroup=DIR`: it opens each pid
 * of cgroup.procs as a pidfd, reads cgroup.procs again, and signals only the pidfds still listed, so a pid that was
 * freed and reused (by a process outside the cgroup) between the read and the signal is never signalled, which a
 * kill(2) of each pid read from cgroup.procs cannot promise (Node has no pidfd). A cgroup that is gone has nothing to
 * signal. Rejects with the helper's message when it fails.
 */
export function signalCgroup(dir: string, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(enterHelperPath, [`--signal=${String(constants.signals[signal])}`, `--cgroup=${dir}`], { env: {} }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(stderr.trim() || err.message, { cause: err }));
    });
  });
}
