// cgexec-enter: the last steps of every job start, the ones that must be taken as root and in C (Node has no
// prctl(2), unshare(2), mount(2) or ioctl(2), and cannot set no_new_privs before it drops its ids). It is executed
// as root, by the job library directly (a cold start) or by a standby (cgexec-standby) or cgexec; then, in order:
//   1. reads the job's spec: from standard input up to end-of-file (`--spec-on-stdin`: NUL-separated options, the
//      argv and the environment; nothing of the job is on any command line), or from its own arguments and
//      environment (cgexec's command-line use),
//   2. moves the status descriptor (standard input) to a close-on-exec copy, puts /dev/null on 0, marks every other
//      descriptor above 2 close-on-exec, puts every signal back to its default and unblocks them,
//   3. sets no_new_privs (when it drops to an account) and makes itself non-dumpable, while still root: from here on
//      no exec gains a privilege, and no process of the account can trace this one (its ids come only at step 8),
//   4. joins the job's cgroup (--cgroup),
//   5. unshare(2)s a mount namespace (private /tmp, read-only system, network none) and/or a network namespace
//      (network none), and makes every mount private (nothing mounted here propagates back to the host),
//   6. network none: brings `lo` up, mounts a sysfs of the new network namespace on /sys (keeping what was mounted
//      below /sys), so /sys/class/net lists only lo,
//   7. read-only: binds the writable directories onto themselves and remounts every other mount but /proc, /sys and
//      /dev read-only; a private /tmp: a fresh tmpfs on /tmp and /var/tmp,
//   8. with a spec on standard input, forks: this process stays, as root, the job's monitor (it reports the program's
//      pid, reaps every child the job gives it and ends as the program ends); the child goes on, in a session of its
//      own,
//   9. drops to the account (supplementary groups, gid, uid; each read back),
//  10. changes to the job's directory and looks the command up on the job's PATH, both as the account (execvp(3)'s
//      rules), and
//  11. execve's the program with exactly the job's environment.
// A failed step writes one line on the status descriptor and exits 125 (126/127 when the program cannot be
// executed): the program never runs with less than it asked for. The status copy is close-on-exec, so the reader
// sees end-of-file with no bytes once the program runs.
//
// It also signals a cgroup's processes for the job library without ever signalling a reused pid (see signal_cgroup).
//
// Usage:
//   cgexec-enter --signal=N --cgroup=DIR
//   cgexec-enter --spec-on-stdin       (the spec, then end-of-file, on standard input, which must be a socket)
//   cgexec-enter [--status-fd=0] [OPTIONS] -- COMMAND [ARGS...]   (the environment is cgexec-enter's own)
// OPTIONS (in the spec, one per NUL-terminated string; in the spec --argc=COUNT and "--" are followed by COUNT
// arguments, argv[0] included, then the environment as NAME=VALUE strings):
//   --cgroup=DIR --network-none --private-tmp=BYTES --read-only --writable=DIR... --uid=U --gid=G --groups=G,...
//   --cwd=DIR --argc=COUNT
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

// Where a failure goes: the status descriptor when given (bare line), else stderr (prefixed, like cgexec's own).
static int status_fd = 2;
static int status_given = 0;

// One line on the status descriptor, then exit: the start failed before the program ran.
__attribute__((noreturn, format(printf, 2, 3))) static void fail(int code, const char *format, ...) {
  char line[4096];
  va_list args;
  va_start(args, format);
  int prefix = status_given ? 0 : snprintf(line, sizeof line, "cgexec: ");
  int n = vsnprintf(line + prefix, sizeof line - 1 - (size_t)prefix, format, args);
  va_end(args);
  if (n < 0) n = 0;
  n += prefix;
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  if (write(status_fd, line, (size_t)n) < 0 && status_fd != 2) {
    if (write(2, line, (size_t)n) < 0) _exit(code);
  }
  _exit(code);
}

// strerror(3) as cgexec's Node code words it (libuv's messages): "permission denied", "no such file or directory".
static const char *reason(int error) {
  static char text[128];
  snprintf(text, sizeof text, "%s", strerror(error));
  if (text[0] >= 'A' && text[0] <= 'Z' && !(text[1] >= 'A' && text[1] <= 'Z')) text[0] = (char)(text[0] - 'A' + 'a');
  return text;
}

static unsigned long parse_number(const char *option, const char *text, unsigned long max) {
  char *end;
  errno = 0;
  if (*text < '0' || *text > '9') fail(125, "%s needs a number, got \"%s\"", option, text);
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || value > max) fail(125, "%s needs a number from 0 to %lu, got \"%s\"", option, max, text);
  return (unsigned long)value;
}

#define MAX_WRITABLE 16
#define MAX_GROUPS 1024
// More than execve(2) accepts for argv and environment together (a quarter of an 8 MiB stack).
#define MAX_SPEC (4 * 1024 * 1024)

struct plan {
  const char *cgroup;
  int network_none;
  unsigned long long tmp_bytes; // 0: no private /tmp
  int read_only;
  const char *writable[MAX_WRITABLE];
  int writable_count;
  int drop;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int group_count;
  const char *cwd;
  char **argv;
  char **envp;
};

static const char *value_of(const char *arg, const char *name) {
  size_t length = strlen(name);
  return strncmp(arg, name, length) == 0 && arg[length] == '=' ? arg + length + 1 : NULL;
}

// Parses the options of args[0..count), then (after "--") the program's argv: the next --argc strings in a spec,
// followed by its environment; every remaining argument otherwise (the environment is then our own).
static void parse(int count, char **args, int from_spec, struct plan *plan) {
  long argc = -1;
  int have_uid = 0, have_gid = 0, i = 0;
  const char *value;
  for (; i < count; i++) {
    const char *arg = args[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (!from_spec && (value = value_of(arg, "--status-fd"))) {
      if (strcmp(value, "0") != 0) fail(125, "--status-fd must be 0 (standard input), got \"%s\"", value);
      status_fd = 0;
      status_given = 1;
    } else if ((value = value_of(arg, "--cgroup"))) {
      if (value[0] != '/') fail(125, "--cgroup needs an absolute path, got \"%s\"", value);
      plan->cgroup = value;
    } else if (strcmp(arg, "--network-none") == 0) plan->network_none = 1;
    else if ((value = value_of(arg, "--private-tmp"))) {
      plan->tmp_bytes = parse_number("--private-tmp", value, ULONG_MAX);
      if (plan->tmp_bytes == 0) fail(125, "--private-tmp needs a size above 0");
    } else if (strcmp(arg, "--read-only") == 0) plan->read_only = 1;
    else if ((value = value_of(arg, "--writable"))) {
      if (plan->writable_count == MAX_WRITABLE) fail(125, "more than %d --writable directories", MAX_WRITABLE);
      if (value[0] != '/') fail(125, "--writable needs an absolute path, got \"%s\"", value);
      plan->writable[plan->writable_count++] = value;
    } else if ((value = value_of(arg, "--uid"))) {
      plan->uid = (uid_t)parse_number("--uid", value, 0xfffffffeUL);
      have_uid = 1;
    } else if ((value = value_of(arg, "--gid"))) {
      plan->gid = (gid_t)parse_number("--gid", value, 0xfffffffeUL);
      have_gid = 1;
    } else if ((value = value_of(arg, "--groups"))) {
      char *copy = strdup(value), *save = NULL;
      for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        if (plan->group_count == MAX_GROUPS) fail(125, "more than %d --groups", MAX_GROUPS);
        plan->groups[plan->group_count++] = (gid_t)parse_number("--groups", id, 0xfffffffeUL);
      }
    } else if ((value = value_of(arg, "--cwd"))) plan->cwd = value;
    else if (from_spec && (value = value_of(arg, "--argc"))) argc = (long)parse_number("--argc", value, INT_MAX);
    else fail(125, "cgexec-enter: unknown option %s", arg);
  }
  if (have_uid != have_gid) fail(125, "--uid and --gid go together");
  plan->drop = have_uid;
  if (!from_spec) argc = count - i;
  if (argc < 1 || i + argc > count) fail(125, from_spec ? "a spec needs --argc=COUNT >= 1 and -- ARGV... ENV..." : "missing COMMAND");
  // A NULL-terminated copy of the program's argv, and of its environment.
  plan->argv = calloc((size_t)argc + 1, sizeof(char *));
  memcpy(plan->argv, args + i, (size_t)argc * sizeof(char *));
  if (!from_spec) {
    plan->envp = environ;
    return;
  }
  int envc = count - i - (int)argc;
  plan->envp = calloc((size_t)envc + 1, sizeof(char *));
  memcpy(plan->envp, args + i + argc, (size_t)envc * sizeof(char *));
  for (int e = 0; e < envc; e++) {
    if (strchr(plan->envp[e], '=') == NULL || plan->envp[e][0] == '=') fail(125, "bad environment entry in the spec");
  }
}

// The spec on standard input, up to end-of-file, split into its NUL-terminated strings.
static char **read_spec(int *count) {
  size_t size = 64 * 1024, length = 0;
  char *text = malloc(size);
  for (;;) {
    if (length == size) {
      if (size >= MAX_SPEC) fail(125, "the spec is larger than %d bytes", MAX_SPEC);
      size *= 2;
      text = realloc(text, size);
    }
    ssize_t n = read(0, text + length, size - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(125, "cannot read the spec on standard input: %s", strerror(errno));
    if (n == 0) break;
    length += (size_t)n;
  }
  if (length == 0 || text[length - 1] != '\0') fail(125, "the spec is empty or does not end with a NUL");
  int strings = 0;
  for (size_t i = 0; i < length; i++) strings += text[i] == '\0';
  char **list = calloc((size_t)strings + 1, sizeof(char *));
  for (size_t i = 0, at = 0; i < length; at++) {
    list[at] = text + i;
    i += strlen(text + i) + 1;
  }
  *count = strings;
  return list;
}

// ---- the process's own state: status descriptor, descriptors, signals, privileges

static void take_status_fd(void) {
  int copy = fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) fail(125, "the status descriptor (standard input): %s", strerror(errno));
  status_fd = copy;
  status_given = 1;
  int null = open("/dev/null", O_RDONLY);
  if (null < 0 || dup2(null, 0) < 0) fail(125, "cannot open /dev/null as standard input: %s", strerror(errno));
  if (null != 0) close(null);
}

static void reset_process(int drop) {
  // Whatever the launcher leaked closes on exec, as do our own: only 0-2 reach the program.
  if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
    for (int fd = 3; fd < 65536; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  // Node (a standby, cgexec) ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across execve.
  for (int signal = 1; signal < NSIG; signal++) {
    if (signal != SIGKILL && signal != SIGSTOP) sigaction(signal, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  // While still root, before any id changes: no exec from here on gains a privilege (setuid bits, file capabilities),
  // and the process is not dumpable, so the account cannot ptrace it between the drop and the program's own exec (the
  // kernel would also clear it on the uid change, but only where fs.suid_dumpable is 0). A job that keeps our ids
  // (root, run-as server) keeps what it could do without us, as a direct spawn would.
  if (drop && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(125, "cannot set no_new_privs: %s", strerror(errno));
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(125, "cannot make the process non-dumpable: %s", strerror(errno));
}

// ---- the cgroup

static void join_cgroup(const char *dir) {
  struct statfs info;
  if (statfs(dir, &info) < 0) fail(125, "cgroup %s: %s", dir, reason(errno));
  // A plain directory (or a cgroup v1 one) may hold a cgroup.procs too: only the file system type tells.
  if (info.f_type != CGROUP2_SUPER_MAGIC) fail(125, "cgroup %s: not a cgroup v2 directory", dir);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) fail(125, "cgroup %s: path too long", dir);
  // No O_CREAT: never create a stray cgroup.procs file.
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(125, "cgroup %s: opening cgroup.procs: %s", dir, reason(errno));
  if (write(fd, "0", 1) < 0) fail(125, "cgroup %s: writing cgroup.procs: %s", dir, reason(errno));
  close(fd);
}

// ---- network none

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(125, "network none: cannot open a socket to bring lo up: %s", strerror(errno));
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strcpy(request.ifr_name, "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) fail(125, "network none: cannot read the flags of lo: %s", strerror(errno));
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &request) < 0) fail(125, "network none: cannot bring lo up: %s", strerror(errno));
  close(fd);
}

// ---- the mount table

// Whether `path` is `dir` or below it.
static int under(const char *path, const char *dir) {
  size_t length = strlen(dir);
  if (strcmp(dir, "/") == 0) return 1;
  return strncmp(path, dir, length) == 0 && (path[length] == '\0' || path[length] == '/');
}

// mountinfo escapes space, tab, newline and backslash as \ooo: decode in place.
static void unescape(char *text) {
  char *out = text;
  for (char *in = text; *in; in++) {
    if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
      *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
      in += 3;
    } else {
      *out++ = *in;
    }
  }
  *out = '\0';
}

#define MAX_MOUNTS 4096

// Every mount point of /proc/self/mountinfo, in its order (parents before children), decoded; `*count` of them.
static char **mount_points(int *count) {
  FILE *table = fopen("/proc/self/mountinfo", "re");
  if (table == NULL) fail(125, "cannot read /proc/self/mountinfo: %s", strerror(errno));
  char **points = calloc(MAX_MOUNTS, sizeof(char *));
  int n = 0;
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, table) > 0 && n < MAX_MOUNTS) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...": the fifth field.
    char *field = line;
    for (int skip = 0; skip < 4 && field; skip++) {
      field = strchr(field, ' ');
      if (field) field++;
    }
    if (field == NULL) continue;
    char *end = strchr(field, ' ');
    if (end == NULL) continue;
    *end = '\0';
    unescape(field);
    points[n++] = strdup(field);
  }
  free(line);
  fclose(table);
  *count = n;
  return points;
}

// A sysfs of the job's network namespace on /sys (the host's lists the host's interfaces in /sys/class/net). What was
// mounted below /sys (cgroup hierarchies, securityfs...) is carried over: each is cloned before /sys is covered, then
// moved onto the same path of the new sysfs.
static void remount_sysfs(void) {
  int count;
  char **points = mount_points(&count);
  int clones[64], kept = 0;
  const char *paths[64];
  for (int i = 0; i < count && kept < 64; i++) {
    if (!under(points[i], "/sys") || strcmp(points[i], "/sys") == 0) continue;
    // Only the top ones below /sys: a recursive clone brings what is mounted below each.
    int nested = 0;
    for (int k = 0; k < kept; k++) nested |= under(points[i], paths[k]);
    if (nested) continue;
    int fd = open_tree(AT_FDCWD, points[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0) {
      if (errno == ENOENT) continue; // hidden under a later mount
      fail(125, "network none: cannot keep %s: %s", points[i], strerror(errno));
    }
    clones[kept] = fd;
    paths[kept++] = points[i];
  }
  if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) fail(125, "network none: cannot mount a sysfs of the new network namespace on /sys: %s", strerror(errno));
  for (int k = 0; k < kept; k++) {
    if (move_mount(clones[k], "", AT_FDCWD, paths[k], MOVE_MOUNT_F_EMPTY_PATH) < 0 && errno != ENOENT) {
      fail(125, "network none: cannot put %s back on the new /sys: %s", paths[k], strerror(errno));
    }
    close(clones[k]);
  }
}

// ---- read-only system

// The per-mount flags a remount must repeat (else it would clear them), from statvfs.
static unsigned long kept_flags(const char *path) {
  struct statvfs info;
  if (statvfs(path, &info) < 0) return 0;
  unsigned long flags = 0;
  if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// Whether a writable directory stays read-only all the same: the system's trees (and anything inside them, e.g.
// /usr/local), and the directories whose writability would make a system tree or a world-writable place of the host
// writable (/ holds them all, /var holds /var/tmp, /tmp is the host's /tmp). Below those (a home in /var/lib/...,
// a directory in /tmp) is fine.
static int protected_dir(const char *path) {
  static const char *const trees[] = {"/usr", "/etc", "/boot", "/opt", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
  static const char *const points[] = {"/", "/var", "/tmp", "/var/tmp", "/home", "/srv", "/run", "/root", "/mnt", "/media"};
  for (size_t i = 0; i < sizeof trees / sizeof *trees; i++) {
    if (under(path, trees[i])) return 1;
  }
  for (size_t i = 0; i < sizeof points / sizeof *points; i++) {
    if (strcmp(path, points[i]) == 0) return 1;
  }
  return 0;
}

static void read_only_system(struct plan *plan) {
  // The writable directories first: each bind (with what is mounted below it) copies the flags it has now, rw. Each is
  // taken as the kernel will see it (symbolic links resolved), so that it is recognised in the mount table below.
  for (int i = 0; i < plan->writable_count; i++) {
    char *real = realpath(plan->writable[i], NULL);
    if (real == NULL) fail(125, "read-only system: cannot keep %s writable: %s", plan->writable[i], strerror(errno));
    plan->writable[i] = real;
    if (protected_dir(real)) continue;
    if (mount(real, real, NULL, MS_BIND | MS_REC, NULL) < 0) fail(125, "read-only system: cannot keep %s writable: %s", real, strerror(errno));
  }
  int count;
  char **points = mount_points(&count);
  for (int m = 0; m < count; m++) {
    const char *point = points[m];
    // The kernel's API file systems stay as they are (systemd's ProtectSystem=strict does the same).
    if (under(point, "/proc") || under(point, "/sys") || under(point, "/dev")) continue;
    int writable = 0;
    for (int i = 0; i < plan->writable_count; i++) {
      if (!protected_dir(plan->writable[i]) && under(point, plan->writable[i])) writable = 1;
    }
    if (writable) continue;
    if (mount(NULL, point, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(point), NULL) < 0) {
      // A mount point that is gone or hidden under a later mount (the table lists both) cannot be reached: nothing
      // to protect there. Any other failure fails the start.
      if (errno == ENOENT || errno == EINVAL) continue;
      fail(125, "read-only system: cannot make %s read-only: %s", point, strerror(errno));
    }
  }
  // The root itself must have taken (it is always in the table; check it rather than trust the loop).
  struct statvfs root;
  if (statvfs("/", &root) < 0 || !(root.f_flag & ST_RDONLY)) fail(125, "read-only system: / did not become read-only");
}

// ---- private /tmp

static void private_tmp(unsigned long long bytes) {
  char options[64];
  snprintf(options, sizeof options, "size=%llu,mode=1777", bytes);
  static const char *const dirs[] = {"/tmp", "/var/tmp"};
  for (size_t i = 0; i < 2; i++) {
    if (mount("tmpfs", dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, options) < 0) {
      fail(125, "private /tmp: cannot mount a tmpfs on %s: %s", dirs[i], strerror(errno));
    }
  }
}

// ---- the monitor

// How `status` ended the program, as this process's own end: the same exit code, or death by the same signal (without a
// core file of its own), so that whoever waits for this process reads the program's status.
__attribute__((noreturn)) static void end_as(int status) {
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  int signal = WTERMSIG(status);
  setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
  sigaction(signal, &(struct sigaction){.sa_handler = SIG_DFL}, NULL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal);
  raise(signal);
  sigprocmask(SIG_UNBLOCK, &only, NULL);
  _exit(128 + signal);
}

// Splits in two: the child goes on to become the program (in a session of its own, so that its process group is its
// own pid); this process stays root, reports the child's pid on the status descriptor ("pid N"), and waits: it reaps
// every process the job makes its child (clone(CLONE_PARENT) from the program gives its parent a child; orphans come to
// it as a subreaper), so that the job library is never the parent of anything but this process, and ends as the program
// ended. It takes no signal but SIGKILL: the job library signals the job's processes through its cgroup or the
// program's process group, and the job's own account cannot signal a root process.
static void monitor(void) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) fail(125, "cannot become the job's subreaper: %s", strerror(errno));
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) fail(125, "cannot start the job's process: %s", reason(errno));
  pid_t child = fork();
  if (child < 0) fail(125, "cannot start the job's process: %s", reason(errno));
  if (child == 0) {
    // Its failure lines come after the pid line.
    char byte;
    close(go[1]);
    while (read(go[0], &byte, 1) < 0 && errno == EINTR) continue;
    close(go[0]);
    if (setsid() < 0) fail(125, "cannot start a session for the job: %s", reason(errno));
    return;
  }
  close(go[0]);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  char line[32];
  int n = snprintf(line, sizeof line, "pid %d\n", (int)child);
  if (write(status_fd, line, (size_t)n) < 0) {
    // Nobody to tell: the program still runs, and its end is this process's end.
  }
  close(status_fd);
  close(go[1]);
  for (int fd = 0; fd <= 2; fd++) close(fd);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid == child) end_as(status);
    if (pid < 0 && errno != EINTR) _exit(125);
  }
}

// ---- the account

static void drop(struct plan *plan) {
  if (setgroups((size_t)plan->group_count, plan->groups) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the supplementary groups: %s", plan->uid, plan->gid, reason(errno));
  if (setgid(plan->gid) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the group id: %s", plan->uid, plan->gid, reason(errno));
  if (setuid(plan->uid) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the user id: %s", plan->uid, plan->gid, reason(errno));
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 || ruid != plan->uid || euid != plan->uid || suid != plan->uid ||
      rgid != plan->gid || egid != plan->gid || sgid != plan->gid) {
    fail(125, "cannot switch to uid %u, gid %u: the ids did not take", plan->uid, plan->gid);
  }
}

// ---- the program, found as execvp(3) finds it

static const char *env_path(char **envp) {
  for (char **e = envp; *e; e++) {
    if (strncmp(*e, "PATH=", 5) == 0) return *e + 5;
  }
  return NULL;
}

// execve(2) of `file`, and what execvp(3) does when it is neither ELF nor "#!": run it with /bin/sh. Returns errno.
static int try_exec(const char *file, char **argv, char **envp) {
  execve(file, argv, envp);
  int error = errno;
  if (error != ENOEXEC) return error;
  int argc = 0;
  while (argv[argc]) argc++;
  char **shell = calloc((size_t)argc + 2, sizeof(char *));
  shell[0] = "/bin/sh";
  shell[1] = (char *)file;
  memcpy(shell + 2, argv + 1, (size_t)(argc > 0 ? argc - 1 : 0) * sizeof(char *));
  execve("/bin/sh", shell, envp);
  return errno;
}

// Why a found `file` could not be executed, as a failure: a directory, or a "#!" interpreter that is missing or
// not executable ("bad interpreter"), else the error itself.
__attribute__((noreturn)) static void cannot_exec(const char *file, int error) {
  struct stat info;
  if (stat(file, &info) == 0 && S_ISDIR(info.st_mode)) fail(126, "%s: is a directory", file);
  if (error == ENOENT || error == EACCES) {
    char header[256];
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, header, sizeof header - 1);
    if (fd >= 0) close(fd);
    if (n > 2 && header[0] == '#' && header[1] == '!') {
      header[n] = '\0';
      char *interpreter = header + 2;
      interpreter += strspn(interpreter, " \t");
      interpreter[strcspn(interpreter, " \t\n")] = '\0';
      if (access(interpreter, X_OK) < 0) {
        int why = errno;
        fail(why == ENOENT || why == ENOTDIR ? 127 : 126, "%s: bad interpreter %s: %s", file, interpreter, reason(why));
      }
    }
  }
  fail(error == ENOENT || error == ENOTDIR ? 127 : 126, "%s: %s", file, reason(error));
}

__attribute__((noreturn)) static void exec_program(struct plan *plan) {
  const char *command = plan->argv[0];
  if (command[0] == '\0') fail(127, "\"\": command not found");
  if (strchr(command, '/')) cannot_exec(command, try_exec(command, plan->argv, plan->envp));
  const char *path = env_path(plan->envp);
  char *dirs = strdup(path == NULL ? "/bin:/usr/bin" : path);
  char candidate[PATH_MAX], denied[PATH_MAX] = "";
  int denied_error = 0;
  for (char *dir = dirs, *next; dir != NULL; dir = next) {
    next = strchr(dir, ':');
    if (next) *next++ = '\0';
    if (snprintf(candidate, sizeof candidate, "%s%s%s", dir[0] == '\0' ? "." : dir, "/", command) >= (int)sizeof candidate) continue;
    int error = try_exec(candidate, plan->argv, plan->envp);
    // execvp goes on to the next entry on these as if the file were absent; on a permission error it goes on, and
    // reports it only if no later entry has the command.
    if (error == ENOENT || error == ENOTDIR || error == ESTALE || error == ENODEV || error == ETIMEDOUT) continue;
    struct stat info;
    if (error == EACCES || (stat(candidate, &info) == 0 && S_ISDIR(info.st_mode))) {
      if (denied_error == 0) {
        snprintf(denied, sizeof denied, "%s", candidate);
        denied_error = error;
      }
      continue;
    }
    cannot_exec(candidate, error);
  }
  if (denied_error != 0) cannot_exec(denied, denied_error);
  fail(127, "%s: command not found", command);
}

// ---- signalling a cgroup's processes

#define MAX_PROCS 65536

// The pids listed in DIR/cgroup.procs; `*count` of them.
static pid_t *cgroup_pids(const char *dir, int *count) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) fail(125, "cgroup %s: path too long", dir);
  FILE *procs = fopen(path, "re");
  pid_t *pids = calloc(MAX_PROCS, sizeof(pid_t));
  *count = 0;
  // A cgroup that is gone has nothing to signal.
  if (procs == NULL && errno == ENOENT) return pids;
  if (procs == NULL) fail(125, "cgroup %s: %s", dir, reason(errno));
  int n = 0, pid;
  while (n < MAX_PROCS && fscanf(procs, "%d", &pid) == 1) pids[n++] = pid;
  fclose(procs);
  *count = n;
  return pids;
}

// `cgexec-enter --signal=N --cgroup=DIR`: signal N to every process of DIR, and to nothing else even if a pid is
// reused meanwhile: each pid is opened as a pidfd (which names that process for good), cgroup.procs is read again, and
// only the pidfds whose pid is still listed are signalled. A pid reused between the two reads by a process outside the
// cgroup is not listed; one whose process died after the second read is an ESRCH on its pidfd, never another process.
static int signal_cgroup(const char *dir, int signal) {
  int count, again;
  pid_t *pids = cgroup_pids(dir, &count);
  int *fds = calloc((size_t)count + 1, sizeof(int));
  for (int i = 0; i < count; i++) fds[i] = pidfd_open(pids[i], 0);
  pid_t *listed = cgroup_pids(dir, &again);
  for (int i = 0; i < count; i++) {
    if (fds[i] < 0) continue;
    for (int k = 0; k < again; k++) {
      if (listed[k] != pids[i]) continue;
      if (pidfd_send_signal(fds[i], signal, NULL, 0) < 0 && errno != ESRCH) fail(125, "cannot signal pid %d of %s: %s", (int)pids[i], dir, reason(errno));
      break;
    }
    close(fds[i]);
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *signal_value;
  if (argc == 3 && (signal_value = value_of(argv[1], "--signal")) && value_of(argv[2], "--cgroup")) {
    return signal_cgroup(value_of(argv[2], "--cgroup"), (int)parse_number("--signal", signal_value, 64));
  }
  struct plan plan;
  memset(&plan, 0, sizeof plan);
  int from_spec = argc == 2 && strcmp(argv[1], "--spec-on-stdin") == 0;
  if (from_spec) {
    // The status goes back on the same socket the spec came on.
    status_fd = 0;
    status_given = 1;
    int count;
    char **spec = read_spec(&count);
    parse(count, spec, 1, &plan);
  } else {
    parse(argc - 1, argv + 1, 0, &plan);
  }
  if (status_given) take_status_fd();
  reset_process(plan.drop);
  if (plan.cgroup != NULL) join_cgroup(plan.cgroup);
  // A sysfs of the new network namespace needs a mount namespace to be mounted in.
  int mounts = plan.tmp_bytes != 0 || plan.read_only || plan.network_none;
  int flags = (mounts ? CLONE_NEWNS : 0) | (plan.network_none ? CLONE_NEWNET : 0);
  if (flags != 0 && unshare(flags) < 0) {
    int error = errno;
    const char *what = flags == (CLONE_NEWNS | CLONE_NEWNET) ? "a mount and a network namespace" : "a mount namespace";
    fail(125, "cannot make %s: %s", what, strerror(error));
  }
  if (mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(125, "cannot make the job's mounts private: %s", strerror(errno));
  if (plan.network_none) {
    loopback_up();
    remount_sysfs();
  }
  if (plan.read_only) read_only_system(&plan);
  if (plan.tmp_bytes != 0) private_tmp(plan.tmp_bytes);
  // The job library's starts (a spec on standard input) get the monitor; cgexec's command-line use becomes COMMAND under
  // its own pid.
  if (from_spec) monitor();
  if (plan.drop) drop(&plan);
  if (plan.cwd != NULL && chdir(plan.cwd) < 0) fail(125, "cannot change to directory %s: %s", plan.cwd, reason(errno));
  exec_program(&plan);
}
