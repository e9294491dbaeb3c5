import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

test("smoke: cgroup2 with controllers", () => {
  const controllers = readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8");
  console.log(controllers);
  assert.match(controllers, /memory/);
});
