/** The `--help` text of cgexec. */
export const usage = `Usage: cgexec [--status-fd=N] [--] CGROUP_DIR COMMAND [ARGS...]

Write our own pid to CGROUP_DIR/cgroup.procs (a cgroup v2 directory), then replace
ourselves with COMMAND through execve(2): COMMAND keeps our pid and runs inside the
cgroup from its first instruction. COMMAND is looked up on PATH like execvp(3) does
(a name containing "/" is used as is; an empty PATH entry is the current directory;
PATH unset means /bin:/usr/bin; a file that is neither ELF nor "#!" is run by /bin/sh).
ARGS and the environment are passed through untouched.

Options (before CGROUP_DIR; "--" ends them):
  --status-fd=N  Report a failure on file descriptor N (N >= 3) instead of stderr, as
                 one line without the "cgexec: " prefix. On success N is closed just
                 before execve, so the reader sees end-of-file with no bytes.
  -h, --help     Print this help and exit 0.

Exit status (of cgexec's own failures; otherwise that of COMMAND):
  125  usage error, or the cgroup could not be joined
  126  COMMAND found but not executable (a directory, no execute permission)
  127  COMMAND, or its "#!" interpreter, not found
`;
