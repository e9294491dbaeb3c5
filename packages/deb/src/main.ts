/**
 * `node src/main.ts [--version V] [--out DIR]` (the Nx target `deb`): builds jobexec_<version>_amd64.deb into DIR
 * (default packages/deb/dist) from the built packages and the project's Node, and prints its path.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildDeb } from "./build-deb.ts";
import { DebError } from "./deb-error.ts";

const { values } = parseArgs({ options: { version: { type: "string" }, out: { type: "string" } } });
try {
  const deb = await buildDeb({ outDir: values.out ?? join(import.meta.dirname, "../dist"), ...(values.version ? { version: values.version } : {}) });
  process.stdout.write(`${deb}\n`);
} catch (err) {
  if (!(err instanceof DebError)) throw err;
  process.stderr.write(`deb: ${err.message}\n`);
  process.exitCode = 1;
}
