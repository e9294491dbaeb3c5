// Test support: a fresh cgroup per test under the cgroup v2 mount, emptied and removed when the test is over.
import { randomUUID } from "node:crypto";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestContext } from "node:test";

/**
 * Makes `jobexec-test-<label>-<random>` under `root` (the cgroup v2 mount); once `t` is over, kills what is left in it
 * (cgroup.kill) and removes it. Returns its path and its name as cgexec takes it (`/jobexec-test-...`).
 */
export function makeCgroup(t: TestContext, root: string, label: string): { path: string; name: string } {
  const name = `jobexec-test-${label}-${randomUUID().slice(0, 8)}`;
  const path = join(root, name);
  mkdirSync(path);
  t.after(async () => {
    try {
      writeFileSync(join(path, "cgroup.kill"), "1");
    } catch (err) {
      // cgroup.kill came with Linux 5.14; before it, tests end their own processes.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(path);
        return;
      } catch (err) {
        // EBUSY until the killed processes are reaped.
        if ((err as NodeJS.ErrnoException).code !== "EBUSY" || attempt === 100) throw err;
        await sleep(50);
      }
    }
  });
  return { path, name: `/${name}` };
}
