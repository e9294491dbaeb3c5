import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * The path of an executable `command` on PATH, or in the sbin directories (/usr/sbin, /sbin), which hold
 * tools such as mkfs.ext4 and modprobe but are not on every user's PATH; `undefined` when there is none.
 */
export function findTool(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? "").split(delimiter).filter((dir) => dir !== ""), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    const path = join(dir, command);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const inCi = Boolean(process.env.CI) && process.env.CI !== "false";

/**
 * A test's `skip` option for a host test that needs `command` (a package install-deps.sh installs): the
 * reason when it is missing, so that hosts without the VM tier's packages pass their host tests; never in CI,
 * where install-deps.sh ran and a missing tool is a failure.
 */
export function skipWithout(command: string): string | false {
  if (inCi || findTool(command) !== undefined) return false;
  return `needs ${command} (packages/testing-vm/install-deps.sh installs it)`;
}
