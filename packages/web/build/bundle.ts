// Builds the web console into dist/: index.html and assets/app.js + assets/style.css, bundled and minified by esbuild.
// Everything the page needs is in these files: nothing is fetched from anywhere else at run time.
// Run: node build/bundle.ts (`pnpm run build`); the CLI's build copies dist/ into its own (packages/cli/build/copy-web.ts).
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
rmSync(`${root}/dist`, { recursive: true, force: true });
mkdirSync(`${root}/dist/assets`, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: { app: "src/main.tsx", style: "src/styles.css" },
  outdir: "dist/assets",
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox120", "safari17"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(`${root}/src/index.html`, `${root}/dist/index.html`);
const js = readFileSync(`${root}/dist/assets/app.js`);
console.log(`web: dist/assets/app.js ${(js.length / 1024).toFixed(1)} KiB, ${(gzipSync(js).length / 1024).toFixed(1)} KiB gzipped`);
