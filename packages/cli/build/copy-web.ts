// Copies the built web app (packages/web's dist/) into dist/web/, where `jobexec ui` serves it from: the CLI's npm
// package then carries it. Run after build/bundle.ts, which empties dist/.
import { cpSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const web = join(dirname(createRequire(import.meta.url).resolve("@jobexec/web/package.json")), "dist");
if (!existsSync(join(web, "index.html"))) throw new Error(`${web} has no index.html: build @jobexec/web first`);
cpSync(web, join(root, "dist", "web"), { recursive: true });
