// The CLI as users install it: packed by build/pack.ts and installed with the system's npm into an empty prefix.
// Shared by the npm package's test and the start-up benchmark. Not part of the build.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The system's Node and npm (not the project's): JOBEXEC_SYSTEM_NODE, else /usr/bin/node with the npm beside it. */
export const systemNode = process.env.JOBEXEC_SYSTEM_NODE ?? "/usr/bin/node";

/** An installed package: its prefix, the `jobexec` command npm made, and the entry script it links to. */
export interface InstalledPackage {
  prefix: string;
  tarball: string;
  bin: string;
  runJs: string;
}

/**
 * Packs this package's build (which must be current) into `dir` and installs the tarball with the system's npm
 * into `dir`/prefix, offline: a package without dependencies needs no registry.
 */
export async function installPackage(dir: string): Promise<InstalledPackage> {
  if (!existsSync(systemNode)) throw new Error(`no system Node at ${systemNode}: install the system's Node.js with its npm, or set JOBEXEC_SYSTEM_NODE`);
  const pack = fileURLToPath(new URL("../../build/pack.ts", import.meta.url));
  const tarball = (await run(process.execPath, [pack, "--out", dir])).stdout.trim();
  const prefix = join(dir, "prefix");
  const npm = join(systemNode, "..", "npm");
  // The system's tools first on PATH: npm's #! line asks for `node`.
  const env = { ...process.env, PATH: `${join(systemNode, "..")}:${process.env.PATH ?? ""}`, npm_config_cache: join(dir, "npm-cache"), npm_config_update_notifier: "false" };
  await run(npm, ["install", "--global", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, tarball], { env });
  return { prefix, tarball, bin: join(prefix, "bin", "jobexec"), runJs: join(prefix, "lib", "node_modules", "jobexec", "bin", "run.js") };
}
