import { fileURLToPath } from "node:url";

export { type Account, CgexecError, type CgexecExitCode, encodeSpec, enterHelperPath, type EntrySpec, type Isolation } from "./cgexec.ts";
export { stdinSocket } from "./stdin-socket.ts";

/**
 * Absolute path of the built cgexec program (`dist/cgexec.js`), to spawn as
 * `process.execPath cgexecPath [--status-fd=N] CGROUP_DIR COMMAND [ARGS...]`.
 */
// One level below the package root both as src/index.ts and as dist/index.js.
export const cgexecPath: string = fileURLToPath(new URL("../dist/cgexec.js", import.meta.url));

/**
 * Absolute path of the built standby entry (`dist/standby.js`), to spawn as `process.execPath standbyPath
 * --request-fd=M` with standard input a socket; it takes its cgroup on M, then, once told to go, becomes the job
 * whose {@link encodeSpec spec} was written on its standard input (through cgexec-enter).
 */
export const standbyPath: string = fileURLToPath(new URL("../dist/standby.js", import.meta.url));
