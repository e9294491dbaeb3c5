// The esbuild plugins and options shared by the CLI's two bundles: dist/ (oclif's ES modules, build/bundle.ts) and
// dist/fast.cjs (the fast path, build/fast.ts).
import { builtinModules } from "node:module";
import type { BuildOptions, Plugin } from "esbuild";

/**
 * Node's own modules are loaded with require(), never `import`: importing one builds its ES-module namespace, which
 * reads every export, lazy getters included, and so loads what they guard: `import fs from "node:fs"` loads the
 * file streams, `import * as http from "node:http"` (Connect) loads Node's bundled undici (25-55 ms on this
 * machine). The few that a typical run never uses (Connect's HTTP/1.1 transports, oclif's performance marks) are
 * loaded on first property access; their property names are taken from this Node at build time.
 */
const lazyModules = new Set(["http", "https", "perf_hooks"]);
export const builtinsByRequire: Plugin = {
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

/** Options both bundles share: Connect's Headers without undici, oclif's optional TypeScript support left out. */
export const commonOptions = {
  bundle: true,
  platform: "node",
  // The npm package runs on Node 20 too.
  target: "node20",
  sourcemap: true,
  // Connect's Headers without undici (src/lite-headers.ts), inside the bundle only: the global stays as it is.
  inject: ["build/inject-headers.ts"],
  alias: { "wsl-utils": "./build/wsl-utils.ts" },
  // oclif's optional TypeScript support for development set-ups (ts-node, tsx): never used by the built CLI.
  external: ["typescript", "ts-node", "tsx", "pnpapi"],
  logLevel: "warning",
} satisfies BuildOptions;
