import { extname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The path of a program that sits beside this module: `name.ts` when the bench runs from source, `name.js` when it
 * runs from dist/. Jobs run it with `jobNode` (a Node every account may execute).
 */
export function siblingProgram(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./${name}${extname(here)}`, import.meta.url));
}
