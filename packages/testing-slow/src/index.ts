import { fileURLToPath } from "node:url";

export { bytesPattern } from "./pattern.ts";

/**
 * A Node binary that every account may execute, for jobs that run Node programs (slow) under an unprivileged
 * account: run `jobNode slowPath N ...`. Today the project's own Node (`process.execPath`); a checkout that other
 * accounts cannot reach (e.g. under a 0700 home) needs a published copy, see scripts/setup.sh.
 */
export const jobNode: string = process.execPath;

/** Absolute path of the built slow program (`dist/slow.js`), to spawn as `jobNode slowPath N ...`. */
// One level below the package root both as src/index.ts and as dist/index.js.
export const slowPath: string = fileURLToPath(new URL("../dist/slow.js", import.meta.url));
