// Packs the CLI as an installable npm package, jobexec-<version>.tgz: bundled JavaScript only (dist/: oclif, its
// help and autocomplete, Connect, protobuf and our packages inside), bin/run.js as the `jobexec` command, no
// dependencies, no install scripts, no native modules; Node >= 20. Run after the build:
//
//   node build/pack.ts [--out DIR]     (default DIR: this package's directory; prints the tarball's path)
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = new URL("..", import.meta.url).pathname;
const { values } = parseArgs({ options: { out: { type: "string" } } });
const out = resolve(values.out ?? root);

interface PackageJson {
  version: string;
  description: string;
  license: string;
  oclif: Record<string, unknown>;
}
const workspace = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
const files = ["bin/run.js", "bin/compile-cache.js", "dist", "oclif.manifest.json", "README.md", "JSON.md"];
const manifest = {
  name: "jobexec",
  version: workspace.version,
  description: workspace.description,
  license: workspace.license,
  type: "module",
  bin: { jobexec: "bin/run.js" },
  engines: { node: ">=20" },
  // Everything under dist/: the bundles and whatever a build step adds there (the web UI's assets).
  files: ["bin", "dist", "oclif.manifest.json", "README.md", "JSON.md"],
  oclif: workspace.oclif,
};

const stage = mkdtempSync(join(tmpdir(), "jobexec-pack-"));
try {
  // Source maps stay out: they would double the package for stack traces nobody reads without --enable-source-maps.
  for (const file of files) cpSync(join(root, file), join(stage, file), { recursive: true, filter: (path) => !path.endsWith(".map") });
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  execFileSync("pnpm", ["pack", "--pack-destination", out], { cwd: stage, stdio: ["ignore", "ignore", "inherit"] });
  console.log(join(out, `jobexec-${workspace.version}.tgz`));
} finally {
  rmSync(stage, { recursive: true, force: true });
}
