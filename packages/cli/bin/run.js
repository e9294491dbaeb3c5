#!/usr/bin/env -S node --
// Node's compile cache keeps the compiled code of the bundle (dist/, built by build/bundle.ts) between runs: enabled
// first, so that the import after it benefits; in the user's own directory, never Node's shared default
// (compile-cache.js says why). The "--" of the first line ends Node's options: else Node takes an --env-file among
// our arguments (`jobexec start --env-file FILE`) for its own, and stops when there is no such file.
import module from "node:module";
import { compileCacheDir } from "./compile-cache.js";

const cache = compileCacheDir();
if (cache.dir !== undefined) module.enableCompileCache?.(cache.dir);
else if (cache.problem !== undefined) process.stderr.write(`jobexec: warning: running without a compile cache: ${cache.problem}\n`);
await import("../dist/main.js");
