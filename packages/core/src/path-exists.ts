import { access, constants } from "node:fs/promises";

/** Whether `path` exists (`mode` F_OK), or is accessible as `mode` asks (e.g. X_OK), to this process. */
export async function pathExists(path: string, mode: number = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}
