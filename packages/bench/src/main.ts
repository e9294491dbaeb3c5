#!/usr/bin/env node
// jobexec-bench [--quick] [--profile] [--only LIST] [--out PATH]: runs the benchmarks, prints the markdown table on stdout and
// writes the same figures as JSON (default packages/bench/results/latest.json).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { full, quick } from "./sizes.ts";
import { BenchError } from "./error.ts";
import { stopAllServers } from "./server-process.ts";
import { benchmarks, runSuite, type Benchmark } from "./suite.ts";
import { renderMarkdown } from "./table.ts";

const usage = `usage: jobexec-bench [--quick] [--profile] [--only LIST] [--out PATH]
  --quick      small sizes (10 starts, 16 MiB, 50 followers, 50 jobs) instead of the full figures
  --profile    record a CPU profile of each server child and print its top frames
  --only LIST  comma-separated subset of: ${benchmarks.join(", ")} (write includes follow)
  --out PATH   where to write the JSON (default packages/bench/results/latest.json)
`;

const defaultOut = fileURLToPath(new URL("../results/latest.json", import.meta.url));
let values;
try {
  ({ values } = parseArgs({
    options: {
      quick: { type: "boolean" },
      profile: { type: "boolean" },
      only: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" },
    },
  }));
  const unknown = values.only?.split(",").filter((b) => !(benchmarks as readonly string[]).includes(b)) ?? [];
  if (unknown.length > 0) throw new BenchError("usage", `unknown benchmark ${unknown.join(", ")}`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  process.exit(2);
}
if (values.help === true) {
  process.stdout.write(usage);
  process.exit(0);
}
// Interrupted: shut the server children down (they stop their jobs and remove their cgroups), then leave.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: stopping the servers\n`);
    void stopAllServers().finally(() => process.exit(130));
  });
}
const mode = values.quick === true ? "quick" : "full";
const { report } = await runSuite({
  mode,
  sizes: values.quick === true ? quick : full,
  profile: values.profile === true,
  ...(values.only === undefined ? {} : { only: values.only.split(",") as Benchmark[] }),
  progress: (message) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`),
});
const out = resolve(values.out ?? defaultOut);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(renderMarkdown(report));
process.stderr.write(`JSON written to ${out}\n`);
