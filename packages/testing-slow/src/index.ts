import { resolveJobRuntime } from "./job-runtime.ts";

export { bytesPattern } from "./pattern.ts";
export { type JobRuntime, publishRoot, runtimeDir } from "./publish.ts";
export { reachableByOthers } from "./reachable.ts";

const { runtime, problem } = resolveJobRuntime();
if (problem !== undefined) process.emitWarning(`@jobexec/testing-slow: ${problem}`);

/**
 * A Node binary every account may execute, for jobs that run Node programs (slow) under an unprivileged
 * account: run `jobNode slowPath N ...`. The project's own Node (`process.execPath`) when other accounts can
 * reach it; when the checkout is inside a directory they cannot enter (a clone under /root, a `mktemp -d`
 * directory), a published copy under /usr/local/lib/jobexec/ (see job-runtime.ts and scripts/setup.sh).
 */
export const jobNode: string = runtime.node;

/**
 * Absolute path of the built slow program, to spawn as `jobNode slowPath N ...`: this package's `dist/slow.js`
 * (`pnpm run build` first), or its published copy beside {@link jobNode}.
 */
export const slowPath: string = runtime.slow;
