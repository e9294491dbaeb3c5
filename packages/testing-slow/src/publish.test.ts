// publishRuntime for real: a checkout inside a 0700 directory, published into a temporary root, and slow run
// from the copy as an account that cannot enter the checkout.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { slowPath } from "./index.ts";
import { publishRuntime, runtimeDir } from "./publish.ts";
import { reachableByOthers } from "./reachable.ts";

const asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];
const root = process.getuid?.() === 0;

/** A checkout in a 0700 directory: a built dist/ and a private copy of the Node binary. */
function privateCheckout(dir: string): { checkout: string; distDir: string; node: string } {
  const checkout = join(dir, "home", "clone");
  const distDir = join(checkout, "packages", "testing-slow", "dist");
  mkdirSync(distDir, { recursive: true });
  chmodSync(join(dir, "home"), 0o700);
  cpSync(dirname(slowPath), distDir, { recursive: true });
  const node = join(checkout, "node");
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  return { checkout, distDir, node };
}

test("publishRuntime copies Node and slow where every account can run them, idempotently, and follows a new build", { timeout: 120_000 }, (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "slow-publish-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { checkout, distDir, node } = privateCheckout(dir);
  const publishRoot = join(dir, "lib", "jobexec");
  chmodSync(dir, 0o755); // the publish root's parent; home/ stays 0700
  assert.equal(reachableByOthers(join(distDir, "slow.js"), "read"), false, "the checkout itself is out of reach");

  const first = publishRuntime({ checkout, node, nodeReachable: false, distDir, root: publishRoot });
  const published = runtimeDir(checkout, publishRoot);
  assert.equal(first.node, join(published, "node"));
  assert.match(first.slow, new RegExp(`^${published}/slow-[0-9a-f]{16}/slow\\.js$`));
  for (const file of [first.node, join(published, "bin", "slow")]) assert.ok(reachableByOthers(file, "exec"), file);
  for (const name of readdirSync(dirname(first.slow))) assert.ok(reachableByOthers(join(dirname(first.slow), name), "read"), name);
  assert.equal(readFileSync(join(published, "checkout"), "utf8"), `${checkout}\n`);

  const again = publishRuntime({ checkout, node, nodeReachable: false, distDir, root: publishRoot });
  assert.deepEqual(again, first, "the same paths");
  assert.equal(statSync(again.node).ino, statSync(first.node).ino, "Node is not copied again");

  writeFileSync(join(distDir, "usage.js"), `${readFileSync(join(distDir, "usage.js"), "utf8")}\n// a new build\n`);
  const rebuilt = publishRuntime({ checkout, node, nodeReachable: false, distDir, root: publishRoot });
  assert.notEqual(rebuilt.slow, first.slow, "a changed build is published anew");
  assert.deepEqual(readdirSync(published).filter((name) => name.startsWith("slow-")), [dirname(rebuilt.slow).slice(published.length + 1)], "the old copy is removed");
  assert.match(readFileSync(join(published, "bin", "slow"), "utf8"), new RegExp(`'${rebuilt.slow}'`));

  const inPlace = publishRuntime({ checkout, node: process.execPath, nodeReachable: true, distDir, root: publishRoot });
  assert.equal(inPlace.node, process.execPath, "a Node others can reach is used where it is");
});

test("slow runs from the published copy as an account that cannot enter the checkout", { timeout: 120_000, skip: !root && "needs root to run as nobody" }, (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "slow-publish-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { checkout, distDir, node } = privateCheckout(dir);
  chmodSync(dir, 0o755);
  const runtime = publishRuntime({ checkout, node, nodeReachable: false, distDir, root: join(dir, "lib") });

  const direct = spawnSync("setpriv", [...asNobody, node, join(distDir, "slow.js"), "1"], { encoding: "utf8" });
  assert.notEqual(direct.status, 0, "the checkout's own copy is out of reach");
  for (const argv of [[runtime.node, runtime.slow], [join(runtime.binDir ?? "", "slow")]]) {
    const run = spawnSync("setpriv", [...asNobody, ...argv, "2", "3", "--interval", "0"], { encoding: "utf8" });
    assert.deepEqual([run.status, run.stdout, run.stderr], [3, "line 1\nexited 3\n", "line 2\n"], argv.join(" "));
  }
});

test("an up-to-date copy is used as it is where the prefix is read-only (as in the VM tier)", { timeout: 120_000, skip: !root && "needs root for a read-only bind mount" }, (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "slow-publish-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { checkout, distDir, node } = privateCheckout(dir);
  const options = { checkout, node, nodeReachable: false, distDir, root: join(dir, "lib") };
  const published = publishRuntime(options);
  const again = `console.log(JSON.stringify((await import(${JSON.stringify(new URL("./publish.ts", import.meta.url).href)})).publishRuntime(${JSON.stringify(options)})))`;
  const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" --input-type=module -e "$3"`;
  const run = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", join(dir, "lib"), process.execPath, again], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), published);
});
