// Builds dist/fast.cjs, the fast path (src/fast/main.ts): one CommonJS file with the everyday commands on stand-ins
// for @oclif/core (src/fast/lite-oclif/), and their flag table, taken here from oclif's own definitions of the
// commands (the built dist/ and oclif.manifest.json: run after build/bundle.ts and `oclif manifest`).
// Run: node build/fast.ts (`pnpm run build` runs it last).
import { Config } from "@oclif/core";
import * as Args from "@oclif/core/args";
import * as Flags from "@oclif/core/flags";
import type { Command } from "@oclif/core/command";
import { readFile } from "node:fs/promises";
import { build, type Plugin } from "esbuild";
import { fastCommands } from "../src/fast/fast-commands.ts";
import type { CommandSpec, FlagSpec, FlagTable } from "../src/fast/flag-table.ts";
import { builtinsByRequire, commonOptions } from "./esbuild-common.ts";

const root = new URL("..", import.meta.url).pathname;

type FlagDefinition = Command.Flag.Any & Record<string, unknown>;
type ArgDefinition = Command.Arg.Any & Record<string, unknown>;

// oclif's parse functions, recognised by their source (as bundled into dist/: white space and `void 0` aside). The
// fast path implements these and no other: a flag with another parse function, given, leaves the command to oclif.
const source = (parse: unknown): string => String(parse).replace(/\s+/g, "").replaceAll("void0", "undefined");
const stringParse = source(Flags.string().parse);
const booleanParse = source(Flags.boolean().parse);
const integerParse = source(Flags.integer().parse);
const argParse = source(Args.string().parse);

/** Features of a flag that the fast path's parser leaves to oclif (when the flag is given). */
const unsupportedFlagKeys = ["aliases", "charAliases", "dependsOn", "exactlyOne", "relationships", "deprecated", "deprecateAliases", "required", "allowStdin", "delimiter", "noCacheDefault"];

function flagSpec(name: string, flag: FlagDefinition): FlagSpec {
  const spec: FlagSpec = { name, type: flag.type };
  if (flag.char !== undefined) spec.char = flag.char;
  if (flag.env !== undefined) spec.env = flag.env;
  const problems = unsupportedFlagKeys.filter((key) => flag[key] !== undefined && flag[key] !== false && !(Array.isArray(flag[key]) && flag[key].length === 0));
  if (flag.type === "boolean") {
    if (flag.allowNo === true) spec.allowNo = true;
    if (source(flag.parse) !== booleanParse) problems.push("parse");
  } else {
    if (flag.multiple === true) spec.multiple = true;
    if (flag.multiple === true && flag.multipleNonGreedy !== true) problems.push("greedy multiple");
    if (flag.options !== undefined) spec.options = [...flag.options];
    if (source(flag.parse) === integerParse) spec.integer = { min: flag.min as number | undefined, max: flag.max as number | undefined };
    else if (source(flag.parse) !== stringParse) problems.push("parse");
  }
  if (flag.default !== undefined) {
    if (typeof flag.default === "string" || typeof flag.default === "boolean") spec.default = flag.default;
    else problems.push("default");
  }
  if (Array.isArray(flag.exclusive) && flag.exclusive.length > 0) spec.exclusive = [...flag.exclusive];
  if (problems.length > 0) spec.unsupported = problems.join(", ");
  return spec;
}

async function commandSpec(config: Config, id: string): Promise<CommandSpec> {
  const command = await config.findCommand(id, { must: true }).load();
  const args = Object.entries((command.args ?? {}) as Record<string, ArgDefinition>).map(([name, arg]) => {
    const unusual = ["options", "default", "multiple", "ignoreStdin"].filter((key) => arg[key] !== undefined && arg[key] !== false);
    if (unusual.length > 0 || source(arg.parse) !== argParse) throw new Error(`${id}: argument ${name} uses ${unusual.join(", ") || "a parse function"}, which the fast path does not implement: remove ${id} from src/fast/fast-commands.ts or implement it in src/fast/parse-argv.ts`);
    return { name, required: arg.required === true };
  });
  if (command.enableJsonFlag || command.baseFlags !== undefined) throw new Error(`${id}: enableJsonFlag and baseFlags are not implemented by the fast path`);
  const flags = Object.fromEntries(Object.entries((command.flags ?? {}) as Record<string, FlagDefinition>).map(([name, flag]) => [name, flagSpec(name, flag)]));
  return { strict: command.strict !== false, args, flags };
}

const config = await Config.load(root);
const table: FlagTable = {};
for (const id of Object.keys(fastCommands)) table[id] = await commandSpec(config, id);

// The commands import @oclif/core's flags, args, command and errors: in this bundle, the stand-ins. Anything else of
// oclif reaching the bundle would be loaded on every run: refuse it.
const standIns = new Set(["command", "flags", "args", "errors"]);
const liteOclif: Plugin = {
  name: "lite-oclif",
  setup(b) {
    b.onResolve({ filter: /^@oclif\// }, (args) => {
      const name = args.path.replace(/^@oclif\/core\//, "");
      if (standIns.has(name)) return { path: `${root}src/fast/lite-oclif/${name}.ts` };
      return { errors: [{ text: `${args.path} (imported by ${args.importer}) would load oclif on the fast path` }] };
    });
  },
};
// The sources load what --help never needs with import(), so that oclif's path skips it. In one CommonJS file
// esbuild wraps every module reached by import() in a function run on first use, and keeps more of what such a module
// imports. Here each import() becomes a static import, but for the commands themselves (fast-commands.ts): loaded
// when one runs, each in one tree-shaken scope with what it uses; deciding between this path and oclif loads nothing.
const staticImports: Plugin = {
  name: "static-imports",
  setup(b) {
    b.onLoad({ filter: /[/]src[/].*[.]ts$/ }, async (args) => {
      if (args.path.endsWith("/src/fast/fast-commands.ts")) return undefined;
      const text = await readFile(args.path, "utf8");
      const specifiers: string[] = [];
      const body = text.replace(/\bimport\(("[^"]+")\)/g, (_, specifier: string) => `Promise.resolve(__import${String(specifiers.push(specifier) - 1)})`);
      const head = specifiers.map((specifier, index) => `import * as __import${String(index)} from ${specifier};\n`).join("");
      return { contents: head + body, loader: "ts" };
    });
  },
};
await build({
  absWorkingDir: root,
  entryPoints: ["src/fast/main.ts"],
  outfile: "dist/fast.cjs",
  ...commonOptions,
  format: "cjs",
  define: { JOBEXEC_FLAG_TABLE: JSON.stringify(table) },
  plugins: [builtinsByRequire, liteOclif, staticImports],
});
