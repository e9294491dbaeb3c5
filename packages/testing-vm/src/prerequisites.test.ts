import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { skipWithout } from "./host-tools.ts";
import { isStaticExecutable } from "./prerequisites.ts";

test("isStaticExecutable: a dynamic binary, a script and a missing file are not static executables", () => {
  assert.equal(isStaticExecutable(process.execPath), false);
  assert.equal(isStaticExecutable(new URL(import.meta.url).pathname), false);
  assert.equal(isStaticExecutable("/nonexistent/busybox"), false);
});

test("isStaticExecutable agrees with file(1) on the installed busybox", { skip: skipWithout("file") }, (t) => {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((path) => existsSync(path));
  if (!busybox) return t.skip("no busybox installed here");
  const described = execFileSync("file", ["-L", busybox]).toString();
  assert.equal(isStaticExecutable(busybox), /statically linked|static-pie/.test(described), described);
});
