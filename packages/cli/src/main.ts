// oclif's entry point in the bundle (build/bundle.ts); bin/run.js imports it when the fast path (src/fast/main.ts)
// leaves the command line to oclif.
import { execute } from "@oclif/core/execute";
import type { LoadOptions } from "@oclif/core/interfaces";
import { settings } from "@oclif/core/settings";
import pjson from "../package.json" with { type: "json" };
import { exitQuietlyOnEpipe } from "./quiet-epipe.ts";

exitQuietlyOnEpipe();
// The built CLI never compiles TypeScript: skip oclif's search for a tsconfig and ts-node.
settings.enableAutoTranspile = false;
// The package.json is in the bundle, so oclif neither looks for it nor reads it; it still reads oclif.manifest.json
// (the commands, their flags and help), the one file it needs, and imports only the command that runs.
// Named as the npm package is (build/pack.ts), for `--version` and the help's VERSION line.
const loadOptions = { root: new URL("..", import.meta.url).pathname, pjson: { ...pjson, name: "jobexec" } } as LoadOptions;
await execute({ dir: import.meta.url, loadOptions });
