import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { findTool } from "./host-tools.ts";

test("findTool searches PATH, then the sbin directories a user's PATH may lack", () => {
  assert.equal(findTool("sh", { PATH: "/bin" }), "/bin/sh");
  assert.equal(findTool("sh", { PATH: "/nonexistent" }), undefined);
  const sbinTool = ["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", "/usr/sbin/modprobe", "/sbin/modprobe"].find((path) => existsSync(path));
  if (sbinTool === undefined) return;
  const name = sbinTool.slice(sbinTool.lastIndexOf("/") + 1);
  assert.match(findTool(name, { PATH: "/usr/bin:/bin" }) ?? "", new RegExp(`^(/usr)?/sbin/${name}$`));
});
