/** The `--help` text of slow. */
export const usage = `Usage: slow N [CODE] [options]
       slow --bytes K [CODE] [options]

A test fixture. Prints N numbered lines, alternating stdout and stderr, one per
interval, then "exited CODE" on stdout, then exits with CODE (0..255, default 0):
  line 1     (stdout, at once)
  line 2     (stderr, after 1 interval)
  ...
  line N     (stdout if N is odd, else stderr, after N-1 intervals)
  exited CODE  (stdout, after N intervals)
So "slow 10" ends with "exited 0" after about 10 s, and "slow 1 3" exits 3.

Options (as "--name VALUE" or "--name=VALUE"; they run in this order):
  --first-line     Write "ready" on stdout as the very first action.
  --ignore-term    Ignore SIGTERM (each one received prints "ignored SIGTERM" on
                   stderr); SIGKILL still ends slow.
  --background     Leave a detached child (a "sleep 86400" in its own session, same
                   cgroup, holding slow's stdout and stderr) that outlives slow;
                   prints "background PID" on stdout.
  --fork K         Start K children ("sleep 86400") that stay alive while slow runs
                   (killed when slow exits normally); prints "forked S of K, F failed"
                   on stdout (failures happen e.g. under pids.max).
  --alloc MIB      Allocate MIB MiB and touch every page (so memory limits bite);
                   prints "allocated MIB MiB" on stdout.
  --spin SECONDS   Keep a CPU busy for SECONDS (wall clock, decimals allowed).
  --bytes K        Instead of numbered lines (give no N), write exactly K bytes
                   to stdout, in 1 MiB writes, as fast as possible, then exit
                   with CODE (no "exited" line). The bytes repeat this pattern:
                   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+\\n"
  --interval MS    Time between lines in milliseconds (default 1000; 0 = no wait).
  -h, --help       Print this help and exit 0.

Bad arguments print a message and this usage on stderr and exit 2.
`;
