// Builds the CLI into dist/: one ES module per entry (src/main.ts, every command under src/commands/ and every hook
// under src/hooks/, found by name so a new one needs no registration), with the code they share (oclif, Connect,
// protobuf, our modules) split into dist/chunks/. Start-up then reads a handful of files instead of resolving ~400
// modules through node_modules, and Node's compile cache (bin/run.js) holds each file's compiled code.
// Run: node build/bundle.ts (then `oclif manifest`; `pnpm run build` does both).
import { globSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { build, type Plugin } from "esbuild";

const root = new URL("..", import.meta.url).pathname;

/**
 * Node's own modules are loaded with require(), never `import`: importing one builds its ES-module namespace, which
 * reads every export, lazy getters included, and so loads what they guard: `import fs from "node:fs"` loads the
 * file streams, `import * as http from "node:http"` (Connect) loads Node's bundled undici (25-55 ms on this
 * machine). The few that a typical run never uses (Connect's HTTP/1.1 transports, oclif's performance marks) are
 * loaded on first property access; their property names are taken from this Node at build time.
 */
const lazyModules = new Set(["http", "https", "perf_hooks"]);
const builtinsByRequire: Plugin = {
  name: "builtins-by-require",
  setup(b) {
    const names = builtinModules.filter((name) => !name.startsWith("_")).map((name) => name.replace(/[/]/g, "\\/"));
    b.onResolve({ filter: new RegExp(`^(node:)?(${names.join("|")})$`) }, (args) => {
      const name = args.path.replace(/^node:/, "");
      // The require() inside our generated module is of the real module.
      return args.namespace === "builtin" ? { path: `node:${name}`, external: true } : { path: name, namespace: "builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "builtin" }, async (args) => {
      const real = `require(${JSON.stringify(`node:${args.path}`)})`;
      if (!lazyModules.has(args.path)) return { loader: "js", contents: `module.exports = ${real};` };
      const properties = Object.getOwnPropertyNames(await import(`node:${args.path}`)).filter((name) => name !== "default");
      return {
        loader: "js",
        contents: [
          "let real;",
          "const lazy = {};",
          `for (const name of ${JSON.stringify(properties)}) {`,
          `  Object.defineProperty(lazy, name, { enumerable: true, get: () => (real ??= ${real})[name] });`,
          "}",
          "module.exports = lazy;",
        ].join("\n"),
      };
    });
  },
};

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
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  chunkNames: "chunks/[name]-[hash]",
  sourcemap: true,
  // oclif and its dependencies are CommonJS: their require() calls of Node's modules need a real require.
  banner: { js: 'import { createRequire as __createRequire } from "node:module"; const require = __createRequire(import.meta.url);' },
  // Connect's Headers without undici (src/lite-headers.ts), inside the bundle only: the global stays as it is.
  inject: ["build/inject-headers.ts"],
  plugins: [builtinsByRequire],
  alias: { "wsl-utils": "./build/wsl-utils.ts" },
  // oclif's optional TypeScript support for development set-ups (ts-node, tsx): never used by the built CLI.
  external: ["typescript", "ts-node", "tsx", "pnpapi"],
  logLevel: "warning",
});
