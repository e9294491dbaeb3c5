import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ServerError } from "./error.ts";
import { startServer } from "./server.ts";
import { testCgroupParent } from "./test-support/cgroup-parent.ts";
import { startTestServer } from "./test-support/test-harness.ts";
import { silentLogger } from "./log.ts";

test("a taken port fails start-up with a sentence and leaves no cgroup behind", async () => {
  const t = await startTestServer();
  try {
    const cgroupParent = testCgroupParent();
    const second = startServer({
      port: t.server.port,
      tls: { cert: t.pki.server.cert, key: t.pki.server.key, clientCa: t.pki.ca.cert },
      dataDir: join(t.dir, "second"),
      cgroupParent,
      log: silentLogger,
    });
    await assert.rejects(second, (e: unknown) => e instanceof ServerError && e.code === "listen" && /address is in use/.test(e.message));
    // The second manager's parent would have been a sibling of the first's.
    const parent = t.server.manager.cgroups.parent;
    if (parent) assert.equal(existsSync(join(parent, "..", cgroupParent)), false);
  } finally {
    await t.close();
  }
});
