// The attack of issue 26 (item 1): a job creates the CLI's compile cache directory before the CLI does, to plant
// compiled code that the next jobexec run (root's) would execute. Run against the real CLI, the planting done by
// another uid.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { compileCachePath } from "../bin/compile-cache.js";
import { cliPath } from "./testing/cli-fixture.ts";

const nobody = 65534;

/** Runs `jobexec --version` (which loads the whole bundle) with `env` over ours. */
function runVersion(env: Record<string, string>): { code: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [cliPath, "--version"], { env: { ...process.env, ...env }, encoding: "utf8" });
  return { code: result.status, stderr: result.stderr };
}

/** Makes `path` with mode 0777 as another uid, as a job would. */
function plantAsNobody(path: string): void {
  const made = spawnSync("mkdir", ["-m", "0777", path], { uid: nobody, gid: nobody, encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  assert.equal(statSync(path).uid, nobody);
}

describe("the CLI's compile cache", { timeout: 120_000 }, () => {
  // Sticky and writable by all, like /tmp: the other uid can make its directory here.
  const shared = mkdtempSync(join(tmpdir(), "jobexec-cache-test-"));
  chmodSync(shared, 0o1777);
  after(() => rmSync(shared, { recursive: true, force: true }));

  test("is kept in the user's cache directory, made 0700, and used", () => {
    const home = join(shared, "fresh");
    const result = runVersion({ XDG_CACHE_HOME: home });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const dir = join(home, "jobexec", "compile-cache");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(dir).uid, process.getuid?.());
    // Node wrote the bundle's compiled code there (one subdirectory per Node version).
    assert.ok(readdirSync(dir).length > 0, "the cache was written");
  });

  test("is never Node's shared default under the temporary directory, even when another uid made it first", () => {
    const tmp = join(shared, "tmp");
    plantAsNobody(tmp);
    plantAsNobody(join(tmp, "node-compile-cache"));
    const result = runVersion({ TMPDIR: tmp, XDG_CACHE_HOME: join(shared, "own") });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(readdirSync(join(tmp, "node-compile-cache")), [], "nothing read from or written to the planted directory");
  });

  test("planted by another uid in the user's cache directory is not used, and the CLI says why", () => {
    const home = join(shared, "planted");
    plantAsNobody(home);
    plantAsNobody(join(home, "jobexec"));
    plantAsNobody(join(home, "jobexec", "compile-cache"));
    const result = runVersion({ XDG_CACHE_HOME: home });
    assert.equal(result.code, 0, "the command still runs, without a cache");
    assert.match(result.stderr, /^jobexec: warning: running without a compile cache: .*\/planted\/jobexec is owned by uid 65534, not by us \(uid 0\); remove it, or set XDG_CACHE_HOME to a directory of yours\n$/);
    assert.deepEqual(readdirSync(join(home, "jobexec", "compile-cache")), []);
  });

  test("that is ours but writable by others is not used", () => {
    const home = join(shared, "loose");
    runVersion({ XDG_CACHE_HOME: home });
    const dir = join(home, "jobexec", "compile-cache");
    chmodSync(dir, 0o777);
    const result = runVersion({ XDG_CACHE_HOME: home });
    assert.match(result.stderr, /compile-cache is writable by others \(mode 0777\)/);
  });

  test("lives in each platform's cache directory", () => {
    assert.equal(compileCachePath({ XDG_CACHE_HOME: "/c" }, "linux"), "/c/jobexec/compile-cache");
    assert.match(compileCachePath({ XDG_CACHE_HOME: "relative" }, "linux"), /^\/.*\/\.cache\/jobexec\/compile-cache$/);
    assert.match(compileCachePath({}, "darwin"), /\/Library\/Caches\/jobexec\/compile-cache$/);
    assert.equal(compileCachePath({ XDG_CACHE_HOME: "/c" }, "darwin"), "/c/jobexec/compile-cache");
    assert.equal(compileCachePath({ LOCALAPPDATA: "C:\\Users\\ann\\AppData\\Local" }, "win32"), "C:\\Users\\ann\\AppData\\Local\\jobexec\\compile-cache");
  });
});
