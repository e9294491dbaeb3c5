// Where the CLI keeps Node's compile cache. Not Node's default, <tmpdir>/node-compile-cache: that directory is shared
// by every user, whoever makes it first owns it, and Node runs what it finds there (it checks only CRC32s), so a job
// could plant code that the next jobexec run executes, root's included. The cache is kept in the user's own cache
// directory instead, and used only when it is theirs and nobody else can write it. Plain JavaScript, run before the
// bundle: a few system calls on every start.
import { lstatSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, win32 } from "node:path";

const sticky = 0o1000;

/**
 * Why `path` may not hold code for the calling user, or undefined when it may: a directory (not a link), owned by
 * the user (or root, for a parent), not writable by group or others (unless sticky, for a parent: /tmp).
 * @param {string} path
 * @param {boolean} parent
 * @returns {string | undefined}
 */
function untrusted(path, parent) {
  const stats = lstatSync(path);
  const uid = process.getuid?.() ?? 0;
  if (!stats.isDirectory()) return `${path} is not a directory`;
  if (stats.uid !== uid && !(parent && stats.uid === 0)) return `${path} is owned by uid ${String(stats.uid)}, not by us (uid ${String(uid)})`;
  if ((stats.mode & 0o022) !== 0 && !(parent && (stats.mode & sticky) !== 0)) {
    return `${path} is writable by others (mode ${(stats.mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  return undefined;
}

/**
 * Where the compile cache goes: `jobexec/compile-cache` in the user's cache directory, $XDG_CACHE_HOME (an absolute
 * path) else ~/.cache on Linux, ~/Library/Caches on macOS, %LOCALAPPDATA% on Windows.
 * @param {NodeJS.ProcessEnv} env
 * @param {NodeJS.Platform} platform
 * @returns {string}
 */
export function compileCachePath(env, platform) {
  if (platform === "win32") return win32.join(env.LOCALAPPDATA || win32.join(homedir(), "AppData", "Local"), "jobexec", "compile-cache");
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && isAbsolute(xdg) ? xdg : platform === "darwin" ? join(homedir(), "Library", "Caches") : join(homedir(), ".cache");
  return join(base, "jobexec", "compile-cache");
}

/**
 * The compile cache directory of the user running the CLI ({@link compileCachePath}), created with mode 0700.
 * `{ dir }` when it is safe to use; `{ problem }` (a sentence) when it exists but is not the user's own private
 * directory; `{}` when it cannot be made (no home, a read-only one: the CLI runs without a cache, silently) or Node's
 * compile cache is turned off (NODE_DISABLE_COMPILE_CACHE). Windows has neither the owners nor the modes checked
 * here: the directory is in the user's profile, which the system's ACLs keep from other users, and is used unchecked.
 * @param {NodeJS.ProcessEnv} [env]
 * @param {NodeJS.Platform} [platform]
 * @returns {{ dir?: string, problem?: string }}
 */
export function compileCacheDir(env = process.env, platform = process.platform) {
  if (env.NODE_DISABLE_COMPILE_CACHE) return {};
  const dir = compileCachePath(env, platform);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return {};
  }
  if (platform === "win32") return { dir };
  const problem = untrusted(dirname(dir), true) ?? untrusted(dir, false);
  return problem === undefined ? { dir } : { problem: `${problem}; remove it, or set XDG_CACHE_HOME to a directory of yours` };
}
