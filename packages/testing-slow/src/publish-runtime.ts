// Run by scripts/setup.sh after the build: publishes slow and the Node binary when other accounts cannot reach
// this checkout (see job-runtime.ts), and prints the directory of the `slow` command to link to, if it did.
import { resolveJobRuntime } from "./job-runtime.ts";

const { runtime, problem } = resolveJobRuntime();
if (problem !== undefined) process.stderr.write(`setup: ${problem}\n`);
if (runtime.binDir !== undefined) process.stdout.write(`${runtime.binDir}\n`);
