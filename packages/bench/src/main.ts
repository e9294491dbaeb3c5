#!/usr/bin/env node
// jobexec-bench [--quick] [--profile] [--out PATH]: runs every benchmark, prints the markdown table on stdout and
// writes the same figures as JSON (default packages/bench/results/latest.json).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { full, quick } from "./sizes.ts";
import { runSuite } from "./suite.ts";
import { renderMarkdown } from "./table.ts";

const usage = `usage: jobexec-bench [--quick] [--profile] [--out PATH]
  --quick     small sizes (20 starts, 16 MiB, 50 followers, 50 jobs) instead of the full figures
  --profile   record a CPU profile of each server child and print its top frames
  --out PATH  where to write the JSON (default packages/bench/results/latest.json)
`;

const defaultOut = fileURLToPath(new URL("../results/latest.json", import.meta.url));
let values;
try {
  ({ values } = parseArgs({
    options: { quick: { type: "boolean" }, profile: { type: "boolean" }, out: { type: "string" }, help: { type: "boolean" } },
  }));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  process.exit(2);
}
if (values.help === true) {
  process.stdout.write(usage);
  process.exit(0);
}
const mode = values.quick === true ? "quick" : "full";
const { report } = await runSuite({
  mode,
  sizes: values.quick === true ? quick : full,
  profile: values.profile === true,
  progress: (message) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`),
});
const out = resolve(values.out ?? defaultOut);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(renderMarkdown(report));
process.stderr.write(`JSON written to ${out}\n`);
