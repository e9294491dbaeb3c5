import { fileURLToPath } from "node:url";

export { type Account, CgexecError, type CgexecExitCode, findSetpriv, type Isolation, isolateHelperPath, setprivDirs } from "./cgexec.ts";
export type { StandbyRequest } from "./standby.ts";

/**
 * Absolute path of the built cgexec program (`dist/cgexec.js`), to spawn as
 * `process.execPath cgexecPath [--status-fd=N] CGROUP_DIR COMMAND [ARGS...]`.
 */
// One level below the package root both as src/index.ts and as dist/index.js.
export const cgexecPath: string = fileURLToPath(new URL("../dist/cgexec.js", import.meta.url));

/**
 * Absolute path of the built standby entry (`dist/standby.js`), to spawn as
 * `process.execPath standbyPath --status-fd=N --request-fd=M [--hold=DIR]` (through `setpriv --no-new-privs`
 * when its job drops to an account); it then takes one {@link StandbyRequest} on descriptor M.
 */
export const standbyPath: string = fileURLToPath(new URL("../dist/standby.js", import.meta.url));
