import { chmod, copyFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The path of a program that sits beside this module: `name.ts` when the bench runs from source, `name.js` when it
 * runs from dist/. Jobs run it with `jobNode` (a Node every account may execute).
 */
export function siblingProgram(name: string): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./${name}${extname(here)}`, import.meta.url));
}

/**
 * A copy of the sibling program `name` in `dir` (a directory the jobs' accounts can pass through), for jobs to run:
 * the checkout itself may be unreachable to them (a clone inside a 0700 directory). Named .mts/.mjs, so that Node
 * runs it as an ES module wherever it lies.
 */
export async function jobProgram(name: string, dir: string): Promise<string> {
  const source = siblingProgram(name);
  const copy = join(dir, `${name}${extname(source) === ".ts" ? ".mts" : ".mjs"}`);
  await copyFile(source, copy);
  await chmod(copy, 0o644);
  return copy;
}
