// Types of compile-cache.js (plain JavaScript, run before the bundle), for the tests.
export function compileCachePath(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string;
export function compileCacheDir(env?: NodeJS.ProcessEnv, platform?: NodeJS.Platform): { dir?: string; problem?: string };
