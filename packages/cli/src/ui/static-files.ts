import { readdirSync, readFileSync } from "node:fs";
import { extname, join, relative } from "node:path";

/** A file of the app, held in memory. */
export interface StaticFile {
  type: string;
  body: Buffer;
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};

/**
 * The built web app (packages/web's dist/, copied into the CLI's dist/web/), read once: requests are answered from
 * this map by exact path, so no request path ever reaches the file system.
 */
export function loadStaticFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const type = types[extname(entry.name)];
    if (type === undefined) continue;
    files.set(`/${relative(root, path).split("\\").join("/")}`, { type, body: readFileSync(path) });
  }
  return files;
}
