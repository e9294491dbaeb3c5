import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { reachableByOthers } from "./reachable.ts";

test("reachableByOthers: every directory above searchable by others, the file readable or executable by them", (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "slow-reachable-")));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const open = join(dir, "open");
  mkdirSync(open);
  chmodSync(open, 0o755);
  const script = join(open, "script.js");
  writeFileSync(script, "");
  chmodSync(script, 0o644);

  chmodSync(dir, 0o700); // as mkdtemp makes it
  assert.equal(reachableByOthers(script, "read"), false, "inside a 0700 directory");
  chmodSync(dir, 0o711);
  assert.equal(reachableByOthers(script, "read"), true, "search permission is enough on the way");
  assert.equal(reachableByOthers(script, "exec"), false, "not executable by others");
  chmodSync(script, 0o600);
  assert.equal(reachableByOthers(script, "read"), false, "not readable by others");
  assert.equal(reachableByOthers(join(open, "missing"), "read"), false);
  assert.equal(reachableByOthers("/bin/sh", "exec"), true);
});
