// cgexec-isolate: the isolation steps of a job start, which Node cannot take (it has no unshare(2), mount(2),
// ioctl(2) or prctl(2)). cgexec execve's it as root, inside the job's cgroup, with the status descriptor open and
// an empty environment; it then, in this order:
//   1. unshare(2) a mount namespace (private /tmp, read-only system) and/or a network namespace (network none),
//   2. makes every mount private (nothing it mounts propagates back to the host),
//   3. brings `lo` up in the new network namespace (its only interface),
//   4. binds the writable directories (the job's home, its working directory) onto themselves, remounts every
//      other mount but /proc, /sys and /dev read-only (keeping each one's nosuid/nodev/noexec/atime flags),
//   5. mounts a fresh tmpfs (size=BYTES, mode 1777, nosuid, nodev) on /tmp and on /var/tmp,
//   6. drops to the account (supplementary groups, gid, uid; each read back), sets no_new_privs,
//   7. changes to the working directory as the account, and
//   8. execve's the program with exactly the environment it was given.
// A failed step writes one line on the status descriptor and exits 125 (126/127 when the program cannot be
// executed): the program never runs with less isolation than asked. The status descriptor is close-on-exec, so
// the reader sees end-of-file with no bytes once the program runs.
//
// Usage (argv after the options: FILE, then COUNT arguments of the program, argv[0] included, then its
// environment as NAME=VALUE strings):
//   cgexec-isolate --status-fd=N [--network-none] [--private-tmp=BYTES] [--read-only] [--writable=DIR]...
//                  [--uid=U --gid=G [--groups=G,...]] [--cwd=DIR] --argc=COUNT -- FILE ARGV... ENV...
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

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

struct plan {
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
  const char *file;
  char **argv;
  char **envp;
};

static const char *value_of(const char *arg, const char *name) {
  size_t length = strlen(name);
  return strncmp(arg, name, length) == 0 && arg[length] == '=' ? arg + length + 1 : NULL;
}

static void parse(int argc, char **argv, struct plan *plan) {
  long count = -1;
  int have_uid = 0, have_gid = 0, i = 1;
  const char *value;
  for (; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if ((value = value_of(arg, "--status-fd"))) {
      status_fd = (int)parse_number("--status-fd", value, INT_MAX);
      status_given = 1;
    }
    else if (strcmp(arg, "--network-none") == 0) plan->network_none = 1;
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
    else if ((value = value_of(arg, "--argc"))) count = (long)parse_number("--argc", value, INT_MAX);
    else fail(125, "cgexec-isolate: unknown option %s", arg);
  }
  if (have_uid != have_gid) fail(125, "--uid and --gid go together");
  plan->drop = have_uid;
  if (count < 1 || i + 1 + count > argc) fail(125, "cgexec-isolate needs --argc=COUNT >= 1 and -- FILE ARGV... ENV...");
  plan->file = argv[i];
  // argv[] is NULL-terminated by the kernel: end the program's argv where its environment starts.
  plan->argv = calloc((size_t)count + 1, sizeof(char *));
  memcpy(plan->argv, argv + i + 1, (size_t)count * sizeof(char *));
  plan->envp = argv + i + 1 + count;
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

// ---- read-only system

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

// A writable directory that would make the whole system, or one of its named parts, writable is not made writable.
static int protected_root(const char *path) {
  static const char *const roots[] = {"/", "/usr", "/etc", "/boot", "/opt"};
  for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
    if (strcmp(path, roots[i]) == 0) return 1;
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
    const char *dir = real;
    if (protected_root(dir)) continue;
    if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0) fail(125, "read-only system: cannot keep %s writable: %s", dir, strerror(errno));
  }
  FILE *table = fopen("/proc/self/mountinfo", "re");
  if (table == NULL) fail(125, "read-only system: cannot read /proc/self/mountinfo: %s", strerror(errno));
  char *line = NULL;
  size_t size = 0;
  while (getline(&line, &size, table) > 0) {
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
    // The kernel's API file systems stay as they are (systemd's ProtectSystem=strict does the same).
    if (under(field, "/proc") || under(field, "/sys") || under(field, "/dev")) continue;
    int writable = 0;
    for (int i = 0; i < plan->writable_count; i++) {
      if (!protected_root(plan->writable[i]) && under(field, plan->writable[i])) writable = 1;
    }
    if (writable) continue;
    if (mount(NULL, field, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(field), NULL) < 0) {
      // A mount point that is gone or hidden under a later mount (the table lists both) cannot be reached: nothing
      // to protect there. Any other failure fails the start.
      if (errno == ENOENT || errno == EINVAL) continue;
      fail(125, "read-only system: cannot make %s read-only: %s", field, strerror(errno));
    }
  }
  free(line);
  fclose(table);
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

// ---- the account

static void drop(struct plan *plan) {
  if (setgroups((size_t)plan->group_count, plan->groups) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the supplementary groups: %s", plan->uid, plan->gid, strerror(errno));
  if (setgid(plan->gid) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the group id: %s", plan->uid, plan->gid, strerror(errno));
  if (setuid(plan->uid) < 0) fail(125, "cannot switch to uid %u, gid %u: setting the user id: %s", plan->uid, plan->gid, strerror(errno));
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0 || ruid != plan->uid || euid != plan->uid || suid != plan->uid ||
      rgid != plan->gid || egid != plan->gid || sgid != plan->gid) {
    fail(125, "cannot switch to uid %u, gid %u: the ids did not take", plan->uid, plan->gid);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(125, "cannot set no_new_privs: %s", strerror(errno));
}

int main(int argc, char **argv) {
  struct plan plan;
  memset(&plan, 0, sizeof plan);
  parse(argc, argv, &plan);
  // From here on the status descriptor closes by itself when the program is executed. Node marks every descriptor
  // above 2 close-on-exec and cannot clear it, so the status comes on standard input (--status-fd=0): it moves to a
  // close-on-exec copy, and the program's standard input becomes /dev/null, as the job library gives every job.
  if (status_given && status_fd == 0) {
    int copy = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) fail(125, "--status-fd=0: %s", strerror(errno));
    status_fd = copy;
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0) fail(125, "cannot open /dev/null as standard input: %s", strerror(errno));
    if (null != 0) close(null);
  } else if (status_given && fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0) {
    fail(125, "--status-fd=%d: %s", status_fd, strerror(errno));
  }
  int mounts = plan.tmp_bytes != 0 || plan.read_only;
  int flags = (mounts ? CLONE_NEWNS : 0) | (plan.network_none ? CLONE_NEWNET : 0);
  if (flags != 0 && unshare(flags) < 0) {
    int error = errno;
    const char *what = flags == (CLONE_NEWNS | CLONE_NEWNET) ? "a mount and a network namespace" : mounts ? "a mount namespace" : "a network namespace";
    fail(125, "cannot make %s: %s", what, strerror(error));
  }
  if (mounts && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(125, "cannot make the job's mounts private: %s", strerror(errno));
  if (plan.network_none) loopback_up();
  if (plan.read_only) read_only_system(&plan);
  if (plan.tmp_bytes != 0) private_tmp(plan.tmp_bytes);
  if (plan.drop) drop(&plan);
  if (plan.cwd != NULL && chdir(plan.cwd) < 0) fail(125, "cannot change to directory %s: %s", plan.cwd, strerror(errno));
  execve(plan.file, plan.argv, plan.envp);
  int error = errno;
  fail(error == ENOENT || error == ENOTDIR ? 127 : 126, "%s: %s", plan.file, strerror(error));
}
