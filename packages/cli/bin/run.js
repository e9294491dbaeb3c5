#!/usr/bin/env node
// Cache compiled code between runs (Node >= 22.1): oclif, Connect and protobuf are hundreds of modules, and
// compiling them dominates start-up. The import comes after, so it benefits.
import module from "node:module";

module.enableCompileCache?.();
const { execute } = await import("@oclif/core");
await execute({ dir: import.meta.url });
