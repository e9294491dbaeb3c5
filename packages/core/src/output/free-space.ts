// Refusing new jobs while the data directory's filesystem is nearly full.
import { statfs } from "node:fs/promises";
import { JobError } from "../job-error.ts";

const mib = 1024 * 1024;
/** Free space this far above the minimum is not looked at again for {@link plentyForMs}... */
const plentyMarginBytes = 1024 * mib;
/** ... since filling that margin takes more than a second of writing at 1 GiB/s. */
const plentyForMs = 1000;

function size(bytes: number): string {
  return bytes >= mib ? `${(bytes / mib).toFixed(1)} MiB` : `${String(bytes)} bytes`;
}

/**
 * The free-space check of every start: JobError "resource_exhausted" when the filesystem of `dir` has less than
 * `minFreeBytes` available to unprivileged users (statfs f_bavail; root may still use the reserve, which stays for
 * the server's records). A filesystem found with a gigabyte more than that is taken as such for a second (a start
 * then costs no statfs); near the minimum every check looks.
 */
export class FreeSpaceCheck {
  readonly #dir: string;
  readonly #minFreeBytes: number;
  #plentyUntil = 0;

  constructor(dir: string, minFreeBytes: number) {
    this.#dir = dir;
    this.#minFreeBytes = minFreeBytes;
  }

  async check(): Promise<void> {
    if (this.#minFreeBytes <= 0 || performance.now() < this.#plentyUntil) return;
    const { bavail, bsize } = await statfs(this.#dir);
    const free = bavail * bsize;
    if (free >= this.#minFreeBytes + plentyMarginBytes) this.#plentyUntil = performance.now() + plentyForMs;
    if (free < this.#minFreeBytes) {
      throw new JobError(
        "resource_exhausted",
        `the data directory ${this.#dir} has ${size(free)} free, less than the ${size(this.#minFreeBytes)} kept free for job output and records: no job can start until space is freed`,
      );
    }
  }
}
