#!/usr/bin/env -S node --
// The everyday commands run from dist/fast.cjs without loading oclif (src/fast/main.ts); every other command line
// goes to oclif, dist/main.js. Node's compile cache keeps the compiled code of both bundles between runs: enabled
// first, so that the loads after it benefit; in the user's own directory, never Node's shared default
// (compile-cache.js says why). The "--" of the first line ends Node's options: else Node takes an --env-file among
// our arguments (`jobexec start --env-file FILE`) for its own, and stops when there is no such file.
import module from "node:module";
import { compileCacheDir } from "./compile-cache.js";

const cache = compileCacheDir();
if (cache.dir !== undefined) module.enableCompileCache?.(cache.dir);
else if (cache.problem !== undefined) process.stderr.write(`jobexec: warning: running without a compile cache: ${cache.problem}\n`);
const { runFast } = module.createRequire(import.meta.url)("../dist/fast.cjs");
if (!(await runFast(process.argv.slice(2)))) await import("../dist/main.js");
