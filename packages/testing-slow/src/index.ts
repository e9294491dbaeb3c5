import { fileURLToPath } from "node:url";

export { bytesPattern } from "./pattern.ts";

/** Absolute path of the built slow program (`dist/slow.js`), to spawn as `process.execPath slowPath N ...`. */
// One level below the package root both as src/index.ts and as dist/index.js.
export const slowPath: string = fileURLToPath(new URL("../dist/slow.js", import.meta.url));
