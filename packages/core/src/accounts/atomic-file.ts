// Replacing a small state file so that a crash at any moment leaves either the old or the new content.
import { constants } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Writes `data` to `path` through a temp file beside it (created 0600, written, fsynced), renamed over `path`,
 * then fsyncs the directory so that the rename itself survives a power loss.
 */
export async function writeFileAtomically(path: string, data: string): Promise<void> {
  const temp = `${path}.${String(process.pid)}.tmp`;
  try {
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  const dir = await open(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
