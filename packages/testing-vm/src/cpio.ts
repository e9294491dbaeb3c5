/** One entry of a cpio archive: a directory, a regular file or a symbolic link. */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * Builds an uncompressed cpio archive in the "newc" format, the one the kernel unpacks as an initramfs.
 * Paths are relative ("init", "lib/modules/x.ko"); parents must come before their children.
 */
export function cpioArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    parts.push(...record(entry.path, { ...header(entry), ino: ino++ }));
  }
  parts.push(...record("TRAILER!!!", { ino: 0, mode: 0, nlink: 1, data: Buffer.alloc(0), rdev: [0, 0] }));
  return Buffer.concat(parts);
}

interface Header {
  ino: number;
  mode: number;
  nlink: number;
  data: Buffer;
  rdev: [number, number];
}

function header(entry: CpioEntry): Omit<Header, "ino"> {
  const none = Buffer.alloc(0);
  switch (entry.kind) {
    case "dir":
      return { mode: S_IFDIR | (entry.mode ?? 0o755), nlink: 2, data: none, rdev: [0, 0] };
    case "file":
      return { mode: S_IFREG | (entry.mode ?? 0o644), nlink: 1, data: Buffer.from(entry.data), rdev: [0, 0] };
    case "symlink":
      return { mode: S_IFLNK | 0o777, nlink: 1, data: Buffer.from(entry.target), rdev: [0, 0] };
    case "chardev":
      return { mode: S_IFCHR | 0o600, nlink: 1, data: none, rdev: [entry.major, entry.minor] };
  }
}

function record(name: string, { ino, mode, nlink, data, rdev }: Header): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  // Fields in order: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
  // mtime stays 0 so the same inputs always give the same bytes (the archive is cached by content).
  const fields = [ino, mode, 0, 0, nlink, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const head = Buffer.from(`070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`);
  return [head, nameBytes, padding(head.length + nameBytes.length), data, padding(data.length)];
}

/** newc aligns both the name (after the 110-byte header) and the data to 4 bytes. */
function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
