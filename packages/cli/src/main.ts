// The CLI's entry point in the bundle (build/bundle.ts); bin/run.js imports it after enabling the compile cache.
import { execute } from "@oclif/core/execute";
import type { LoadOptions } from "@oclif/core/interfaces";
import { settings } from "@oclif/core/settings";
import pjson from "../package.json" with { type: "json" };

// A reader that went away before oclif finished writing (`jobexec --help | head`): stop quietly with 0, as a program
// killed by SIGPIPE would, instead of waiting forever for stdout to drain. Commands also abort their calls first.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
});
// The built CLI never compiles TypeScript: skip oclif's search for a tsconfig and ts-node.
settings.enableAutoTranspile = false;
// The package.json is in the bundle, so oclif neither looks for it nor reads it; it still reads oclif.manifest.json
// (the commands, their flags and help), the one file it needs, and imports only the command that runs.
const loadOptions = { root: new URL("..", import.meta.url).pathname, pjson } as LoadOptions;
await execute({ dir: import.meta.url, loadOptions });
