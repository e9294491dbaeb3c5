import { BOOT_FAILED_MARKER, EXIT_MARKER, HOST_ROOT_TAG, READY_MARKER, RUN_DIR_TAG } from "../vm-scripts.ts";

/** Where the host's root appears in the VM (read-only): the tests and the Node that runs them. */
export const VM_HOST_DIR = "/host";
/** Where the run directory appears in the VM: run.sh, the test unit, the .deb files. */
export const VM_RUN_DIR = "/vm-run";
/** The oneshot-like unit that runs the tests once systemd is up. */
export const TEST_UNIT = "jobexec-systemd-tests.service";

// msize raises 9p's 8 KiB default message size: Node reads many files at start-up.
const NINEP = "trans=virtio,version=9p2000.L,msize=524288";

/**
 * The initramfs's /init for the systemd tier: loads the modules listed in /modules, mounts the root file system
 * (ext4 on vda) read-write, the host's root read-only at /host and the run directory at /vm-run, enables the tests'
 * unit, and hands over to the root file system's /sbin/init: systemd as PID 1 on pure cgroup v2 (the kernel command
 * line says so). Anything that fails before that is reported on the test console, and the VM powers off.
 */
export function systemdInitScript(): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
report() { echo "$*" >/dev/ttyS1; echo "$*"; sync; reboot -f; }
# Raw mode: no CR before each LF on the test console.
stty -F /dev/ttyS1 raw -echo 2>/dev/null
while read -r module; do
  insmod "/lib/modules/$module" || report "${BOOT_FAILED_MARKER} insmod $module"
done </modules
root=/newroot
mount -t ext4 -o rw /dev/vda $root || report "${BOOT_FAILED_MARKER} cannot mount the root file system"
mkdir -p $root${VM_HOST_DIR} $root${VM_RUN_DIR}
mount -t 9p -o ${NINEP},ro,cache=loose ${HOST_ROOT_TAG} $root${VM_HOST_DIR} || report "${BOOT_FAILED_MARKER} cannot mount the host root"
mount -t 9p -o ${NINEP} ${RUN_DIR_TAG} $root${VM_RUN_DIR} || report "${BOOT_FAILED_MARKER} cannot mount the run directory"
cp $root${VM_RUN_DIR}/${TEST_UNIT} $root/etc/systemd/system/ || report "${BOOT_FAILED_MARKER} cannot install the test unit"
mkdir -p $root/etc/systemd/system/multi-user.target.wants
ln -sf ../${TEST_UNIT} $root/etc/systemd/system/multi-user.target.wants/${TEST_UNIT}
[ -L $root/sbin/init ] || [ -x $root/sbin/init ] || report "${BOOT_FAILED_MARKER} the root file system has no /sbin/init"
umount /proc /sys
mount --move /dev $root/dev
exec switch_root $root /sbin/init
`;
}

/** The unit that runs run.sh once systemd is up, its output on the test console (ttyS1). */
export function testUnit(): string {
  return `[Unit]
Description=jobexec systemd tier: the tests
After=basic.target

[Service]
Type=simple
ExecStart=/bin/sh ${VM_RUN_DIR}/run.sh
StandardOutput=file:/dev/ttyS1
StandardError=inherit
`;
}

/** What run.sh runs inside the VM. */
export interface SystemdRunOptions {
  /** The Node that runs the tests: the host's, seen under /host. */
  node: string;
  /** Working directory of the test run (under /host). */
  cwd: string;
  /** Test files, absolute (under /host). */
  files: readonly string[];
  /** Environment of the test run. */
  env: Record<string, string>;
}

/**
 * run.sh: says the VM is up, runs node:test with the spec reporter on the files (one process: under TCG each Node
 * start costs seconds), writes their exit status and powers off at once.
 */
export function systemdRunScript(options: SystemdRunOptions): string {
  const env = Object.entries(options.env).map(([key, value]) => `export ${key}=${quote(value)}`);
  return `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
${env.join("\n")}
cd ${quote(options.cwd)} || { echo "${BOOT_FAILED_MARKER} no ${options.cwd} in the VM"; systemctl poweroff --force --force; }
echo ${READY_MARKER}
${[options.node, "--test", "--test-reporter=spec", "--test-isolation=none", ...options.files].map(quote).join(" ")}
echo "${EXIT_MARKER} $?"
sync
systemctl poweroff --force --force
`;
}

/** Quotes for sh: everything literal. */
function quote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
