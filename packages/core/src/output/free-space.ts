// Refusing new jobs while the data directory's filesystem is nearly full.
import { statfs } from "node:fs/promises";
import { JobError } from "../job-error.ts";

const mib = 1024 * 1024;

function size(bytes: number): string {
  return bytes >= mib ? `${(bytes / mib).toFixed(1)} MiB` : `${String(bytes)} bytes`;
}

/**
 * Throws JobError "resource_exhausted" when the filesystem of `dir` has less than `minFreeBytes` available to
 * unprivileged users (statfs f_bavail; root may still use the reserve, which stays for the server's records).
 */
export async function checkFreeSpace(dir: string, minFreeBytes: number): Promise<void> {
  if (minFreeBytes <= 0) return;
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < minFreeBytes) {
    throw new JobError(
      "resource_exhausted",
      `the data directory ${dir} has ${size(free)} free, less than the ${size(minFreeBytes)} kept free for job output and records: no job can start until space is freed`,
    );
  }
}
