#!/usr/bin/env node
// Node's compile cache keeps the compiled code of the bundle (dist/, built by build/bundle.ts) between runs: enabled
// first, so that the import after it benefits.
import module from "node:module";

module.enableCompileCache?.();
await import("../dist/main.js");
