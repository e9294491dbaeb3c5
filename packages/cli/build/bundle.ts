// Builds the CLI into dist/: one ES module per entry (src/main.ts, every command under src/commands/ and every hook
// under src/hooks/, found by name so a new one needs no registration), with the code they share (oclif, Connect,
// protobuf, our modules) split into dist/chunks/. Start-up then reads a handful of files instead of resolving ~400
// modules through node_modules, and Node's compile cache (bin/run.js) holds each file's compiled code.
// Run: node build/bundle.ts (then `oclif manifest`; `pnpm run build` does both).
import { globSync, readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";
import { builtinsByRequire, commonOptions } from "./esbuild-common.ts";

const root = new URL("..", import.meta.url).pathname;

// Commands and hooks are found by name; package.json's oclif section may name more modules by their built path
// (hooks, helpClass: "./dist/NAME.js", built from src/NAME.ts).
const pjson = JSON.parse(readFileSync(`${root}/package.json`, "utf8")) as { oclif: { hooks?: Record<string, string | string[]>; helpClass?: string } };
const named = [...Object.values(pjson.oclif.hooks ?? {}).flat(), ...(pjson.oclif.helpClass ? [pjson.oclif.helpClass] : [])];
const entryPoints = [...new Set([
  "src/main.ts",
  ...globSync("src/{commands,hooks}/**/*.ts", { cwd: root }).filter((file) => !file.endsWith(".test.ts")),
  ...named.map((path) => path.replace(/^(\.\/)?dist\//, "src/").replace(/\.js$/, ".ts")),
])];
rmSync(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints,
  outdir: "dist",
  outbase: "src",
  ...commonOptions,
  splitting: true,
  format: "esm",
  chunkNames: "chunks/[name]-[hash]",
  // oclif and its dependencies are CommonJS: their require() calls of Node's modules need a real require.
  banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  plugins: [builtinsByRequire],
});
