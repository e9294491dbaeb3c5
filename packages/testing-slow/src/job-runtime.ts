import { readdirSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { type JobRuntime, publishRuntime } from "./publish.ts";
import { reachableByOthers } from "./reachable.ts";

// One level below the package root both as src/ and as dist/.
const packageDir = resolve(import.meta.dirname, "..");

/** The runtime jobs run slow on, and why it is not the one they should have when that is so. */
export interface ResolvedRuntime {
  readonly runtime: JobRuntime;
  /** Set when other accounts cannot reach `runtime` and it could not be published. */
  readonly problem?: string;
}

/**
 * What jobs execute to run slow. Jobs may run as unprivileged accounts (the server drops to one per identity),
 * which cannot enter a checkout inside a 0700 directory such as /root or a `mktemp -d` directory. So: this
 * checkout's Node and `dist/slow.js` when every account can reach them; else, as root, a published copy of
 * them ({@link publishRuntime}, refreshed whenever the build changed); else (not root, and so no job runs as
 * another account) this checkout's own.
 */
export function resolveJobRuntime(): ResolvedRuntime {
  const local: JobRuntime = { node: process.execPath, slow: join(packageDir, "dist", "slow.js") };
  let node: string;
  let distDir: string;
  let modules: string[];
  try {
    node = realpathSync(process.execPath);
    distDir = realpathSync(join(packageDir, "dist"));
    modules = readdirSync(distDir).filter((name) => name.endsWith(".js"));
  } catch {
    return { runtime: local }; // not built: nothing to publish, and the caller's spawn will say so
  }
  const nodeReachable = reachableByOthers(node, "exec");
  if (nodeReachable && modules.every((name) => reachableByOthers(join(distDir, name), "read"))) return { runtime: local };
  if (process.getuid?.() !== 0) return { runtime: local };
  try {
    return { runtime: publishRuntime({ checkout: resolve(distDir, "../../.."), node, nodeReachable, distDir }) };
  } catch (cause) {
    const problem = `other accounts cannot reach ${distDir} or ${node}, and publishing them failed: ${(cause as Error).message}`;
    return { runtime: local, problem };
  }
}
