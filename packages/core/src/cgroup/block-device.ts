// Resolving an io.max device: a path or "MAJ:MIN" to the whole disk behind it (the kernel refuses partitions).
import { readFile, realpath, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { JobError } from "../job-error.ts";
import { errnoCode } from "./cgroup-fs.ts";

const majMinPattern = /^(\d+):(\d+)$/;

// glibc's gnu_dev_major/gnu_dev_minor on a 64-bit dev_t.
function splitDev(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major, minor };
}

async function deviceOfPath(path: string): Promise<string> {
  let st;
  try {
    st = await stat(path, { bigint: true });
  } catch (err) {
    throw new JobError("invalid_argument", `io device ${JSON.stringify(path)} does not exist`, { cause: err });
  }
  // A device node names its device; any other file names the filesystem's device.
  const { major, minor } = splitDev(st.isBlockDevice() ? st.rdev : st.dev);
  if (major === 0n) {
    throw new JobError(
      "invalid_argument",
      `io device ${JSON.stringify(path)} is on a filesystem without a block device (tmpfs, overlay or similar): io.max cannot limit it`,
    );
  }
  return `${String(major)}:${String(minor)}`;
}

/**
 * The whole disk ("MAJ:MIN") behind `device`, a "MAJ:MIN" or a path, resolved like systemd: stat, then a
 * partition maps to its disk through /sys/dev/block/MAJ:MIN/partition and the parent directory's `dev`.
 * `sysRoot` is injectable for tests.
 */
export async function resolveWholeDisk(device: string, sysRoot = "/sys"): Promise<string> {
  const majMin = majMinPattern.test(device) ? device : await deviceOfPath(device);
  if (majMin.startsWith("0:")) {
    throw new JobError("invalid_argument", `io device ${majMin} has major 0 (no block device behind it)`);
  }
  let real: string;
  try {
    real = await realpath(join(sysRoot, "dev/block", majMin));
  } catch (err) {
    throw new JobError("invalid_argument", `io device ${JSON.stringify(device)} (${majMin}) is not a block device of this host`, {
      cause: err,
    });
  }
  try {
    await readFile(join(real, "partition"));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return majMin; // a whole disk already
    throw err;
  }
  return (await readFile(join(dirname(real), "dev"), "utf8")).trim();
}
