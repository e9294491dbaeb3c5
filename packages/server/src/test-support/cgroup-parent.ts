// A cgroup parent of the tests' own. Not part of the build.
import { randomBytes } from "node:crypto";

/** A unique cgroup parent: tests of several packages share this host's cgroup v2 hierarchy at once. */
export function testCgroupParent(): string {
  return `jobexec-test-${randomBytes(6).toString("hex")}`;
}
