import { execFileSync } from "node:child_process";
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SECTOR_BYTES, masterBootRecord } from "./mbr.ts";
import { VmError } from "./vm-error.ts";

/** Size of each scratch disk: room for the IO tests' few MiB plus ext4's metadata. */
const DISK_BYTES = 64 * 1024 * 1024;
/** The partition of the second disk starts at 1 MiB, as fdisk aligns it. */
const PARTITION_START_SECTOR = 2048;

/** The scratch disk images of one VM run, in the order they are attached (vda, vdb). */
export interface DiskImages {
  /** A whole-disk ext4 filesystem: vda (254:0) in the VM. */
  whole: string;
  /** An MS-DOS partition table with one partition holding ext4: vdb, vdb1 in the VM. */
  partitioned: string;
}

/** Creates the sparse disk images in `dir` and makes their filesystems with the host's mkfs.ext4. */
export async function createDiskImages(dir: string, mkfsExt4: string): Promise<DiskImages> {
  const whole = join(dir, "whole.img");
  const partitioned = join(dir, "partitioned.img");
  await writeFile(whole, "");
  await truncate(whole, DISK_BYTES);
  mkfs(mkfsExt4, whole, []);

  const partitionSectors = DISK_BYTES / SECTOR_BYTES - PARTITION_START_SECTOR;
  await writeFile(partitioned, masterBootRecord([{ startSector: PARTITION_START_SECTOR, sectors: partitionSectors }]));
  await truncate(partitioned, DISK_BYTES);
  // mkfs.ext4 writes inside the partition only: offset in bytes, size in KiB.
  mkfs(mkfsExt4, partitioned, ["-E", `offset=${PARTITION_START_SECTOR * SECTOR_BYTES}`], `${(partitionSectors * SECTOR_BYTES) / 1024}k`);
  return { whole, partitioned };
}

function mkfs(mkfsExt4: string, image: string, options: string[], size?: string): void {
  try {
    execFileSync(mkfsExt4, ["-q", "-F", ...options, image, ...(size ? [size] : [])], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (cause) {
    throw new VmError("build_failed", `mkfs.ext4 ${image} failed`, { cause });
  }
}
