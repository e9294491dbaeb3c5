/** 9p mount tag of the host's root, shared read-only. */
export const HOST_ROOT_TAG = "hostroot";
/** 9p mount tag of the run directory, shared writable: the run script and the tests' scratch files. */
export const RUN_DIR_TAG = "vmrun";
/** Where the run directory appears inside the VM (after the chroot into the host's root). */
export const VM_RUN_DIR = "/tmp/vm-run";
/** 9p mount tag of Node's compile cache, shared writable and kept between runs. */
export const COMPILE_CACHE_TAG = "vmcache";
/** Where the compile cache appears inside the VM; NODE_COMPILE_CACHE points there. */
export const VM_COMPILE_CACHE_DIR = "/tmp/vm-cache";
/** File in the run directory naming, one a line, the entries of the host's /tmp the run needs inside the VM. */
export const HOST_TMP_FILE = "host-tmp";
/** The line the VM writes last on the test console: the tests' exit status follows it. */
export const EXIT_MARKER = "JOBEXEC-VM-EXIT";
/** The line run.sh writes when the VM is up and the tests start. */
export const READY_MARKER = "JOBEXEC-VM-READY";
/** The line the VM writes when it cannot reach the point of running the tests. */
export const BOOT_FAILED_MARKER = "JOBEXEC-VM-BOOT-FAILED";

// msize raises 9p's 8 KiB default message size: Node reads many files at start-up.
const NINEP = "trans=virtio,version=9p2000.L,msize=524288";

/**
 * The initramfs's /init: loads the modules listed in /modules, mounts the host's root read-only with
 * fresh proc, sys, dev, a tmpfs /tmp (with the host /tmp entries the run needs bound back into it), a fresh
 * tmpfs /run (as after a boot: the host's runtime state, e.g. jobexec's uid claims and locks, is not the VM's) and
 * cgroup2 at /sys/fs/cgroup (the pure v2 layout), then runs the
 * run directory's run.sh chrooted into it, its output on the second serial port (ttyS1) so that kernel
 * messages on the console (ttyS0) never mix into the tests' report. Always ends by powering off.
 */
export function initScript(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The tests' servers listen on 127.0.0.1: loopback is the VM's only network.
ip link set lo up
report() { echo "$*" >/dev/ttyS1; echo "$*"; sync; reboot -f; }
# Raw mode: no CR before each LF on the test console.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
while read -r module; do
  insmod "/lib/modules/$module" || report "${BOOT_FAILED_MARKER} insmod $module"
done </modules
root=/newroot
# cache=loose: the share is read-only, and without a cache every Node start re-reads its binary over 9p.
mount -t 9p -o ${NINEP},ro,cache=loose ${HOST_ROOT_TAG} $root || report "${BOOT_FAILED_MARKER} cannot mount the host root"
# The checkout or node may live under the host's /tmp, which the tmpfs hides: keep it reachable.
mkdir -p /hosttmp
mount -o bind $root/tmp /hosttmp || report "${BOOT_FAILED_MARKER} cannot keep the host's /tmp"
mount -t tmpfs -o mode=1777 tmpfs $root/tmp || report "${BOOT_FAILED_MARKER} cannot mount /tmp"
mkdir -p $root${VM_RUN_DIR}
mount -t 9p -o ${NINEP} ${RUN_DIR_TAG} $root${VM_RUN_DIR} || report "${BOOT_FAILED_MARKER} cannot mount the run directory"
while read -r entry; do
  mkdir -p "$root/tmp/$entry"
  mount -o bind "/hosttmp/$entry" "$root/tmp/$entry" || report "${BOOT_FAILED_MARKER} cannot bind /tmp/$entry"
done <$root${VM_RUN_DIR}/${HOST_TMP_FILE}
mkdir -p $root${VM_COMPILE_CACHE_DIR}
mount -t 9p -o ${NINEP} ${COMPILE_CACHE_TAG} $root${VM_COMPILE_CACHE_DIR} || report "${BOOT_FAILED_MARKER} cannot mount the compile cache"
mount -t proc proc $root/proc
mount -t sysfs sysfs $root/sys
mount -t devtmpfs devtmpfs $root/dev
mount -t tmpfs -o mode=0755 tmpfs $root/run || report "${BOOT_FAILED_MARKER} cannot mount /run"
mount -t cgroup2 -o nsdelegate cgroup2 $root/sys/fs/cgroup || report "${BOOT_FAILED_MARKER} cannot mount cgroup2"
chroot $root /bin/sh ${VM_RUN_DIR}/run.sh </dev/null >/dev/ttyS1 2>&1
report "${EXIT_MARKER} $?"
`;
}

/** What run.sh runs inside the VM. */
export interface RunScriptOptions {
  /** Absolute path of node, the same one the host runs. */
  node: string;
  /** Working directory of the test run. */
  cwd: string;
  /** Test files, relative to cwd or absolute. */
  files: readonly string[];
  /** Extra environment of the test run. */
  env: Record<string, string>;
}

/**
 * run.sh: mounts the scratch disks (vda: ext4 on the whole disk; vdb1: ext4 on a partition), then
 * runs node:test with the spec reporter, every file in one process (under TCG each Node start costs
 * seconds). Its exit status is the tests'.
 */
export function runScript(options: RunScriptOptions): string {
  const env = Object.entries(options.env).map(([key, value]) => `export ${key}=${quote(value)}`);
  return `set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8
# Under TCG compiling JavaScript is a large part of every Node start: keep V8's code cache between runs.
export NODE_COMPILE_CACHE=${VM_COMPILE_CACHE_DIR}
${env.join("\n")}
mkdir -p "$JOBEXEC_TEST_WHOLE_DISK_DIR" "$JOBEXEC_TEST_PARTITION_DIR"
mount -t ext4 "$JOBEXEC_TEST_WHOLE_DISK" "$JOBEXEC_TEST_WHOLE_DISK_DIR"
mount -t ext4 "$JOBEXEC_TEST_PARTITION" "$JOBEXEC_TEST_PARTITION_DIR"
cd ${quote(options.cwd)}
echo ${READY_MARKER}
set +e
${[options.node, "--test", "--test-reporter=spec", "--test-isolation=none", ...options.files].map(quote).join(" ")}
`;
}

/** Quotes for sh: everything literal. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
