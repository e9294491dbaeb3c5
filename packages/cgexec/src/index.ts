import { fileURLToPath } from "node:url";

export { type Account, CgexecError, type CgexecExitCode, findSetpriv, setprivDirs } from "./cgexec.ts";

/**
 * Absolute path of the built cgexec program (`dist/cgexec.js`), to spawn as
 * `process.execPath cgexecPath [--status-fd=N] CGROUP_DIR COMMAND [ARGS...]`.
 */
// One level below the package root both as src/index.ts and as dist/index.js.
export const cgexecPath: string = fileURLToPath(new URL("../dist/cgexec.js", import.meta.url));
