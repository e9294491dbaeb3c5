export { buildDeb, defaultVersion, type BuildOptions } from "./build-deb.ts";
export { DebError, type DebErrorCode } from "./deb-error.ts";
export { LIB_DIR, PACKAGE, UNIT } from "./control.ts";
