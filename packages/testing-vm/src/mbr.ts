/** Bytes per sector of the disk images: what virtio-blk reports by default. */
export const SECTOR_BYTES = 512;

/** A primary partition: where it starts and how long it is, in sectors. */
export interface Partition {
  startSector: number;
  sectors: number;
  /** MBR partition type; default 0x83 (Linux). */
  type?: number;
}

/**
 * A master boot record holding up to four primary partitions: the first sector of a disk with an
 * MS-DOS partition table, as sfdisk would write it (CHS fields left 0: Linux reads only the LBA ones).
 */
export function masterBootRecord(partitions: readonly Partition[]): Buffer {
  if (partitions.length > 4) throw new RangeError("an MBR holds at most four primary partitions");
  const mbr = Buffer.alloc(SECTOR_BYTES);
  partitions.forEach((partition, index) => {
    const entry = 446 + index * 16;
    mbr[entry + 4] = partition.type ?? 0x83;
    mbr.writeUInt32LE(partition.startSector, entry + 8);
    mbr.writeUInt32LE(partition.sectors, entry + 12);
  });
  mbr.writeUInt16LE(0xaa55, 510);
  return mbr;
}
