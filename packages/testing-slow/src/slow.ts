#!/usr/bin/env node
// slow N [CODE] [options]: a test fixture that writes numbered lines slowly and misbehaves on
// request (see usage.ts). It also measures job start latency, so this entry point loads nothing
// before answering --first-line: node:fs comes through getBuiltinModule (a static ESM import of
// it builds its ESM facade, which costs several ms) and the rest of slow only afterwards.
if (process.argv.includes("--first-line")) process.getBuiltinModule("node:fs").writeSync(1, "ready\n");
await import("./main.ts");
