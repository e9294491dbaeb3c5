/**
 * The jobexec job library.
 */
export type * from "./types.ts";
