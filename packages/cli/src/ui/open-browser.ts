// Opening the browser the way Jupyter does (jupyter/notebook#4260): the address with the one-time code goes into a
// file only the user can read, and the browser is started on that file, so that the code is on no command line
// that other users can see in ps or /proc.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redirect file on disk. */
export interface RedirectFile {
  path: string;
  /** Removes the file (and the directory made for it, if any). */
  remove(): Promise<void>;
}

function htmlAttribute(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Writes a page that sends the browser to `url` into a 0600 file under the user's runtime directory
 * ($XDG_RUNTIME_DIR/jobexec), else under a fresh 0700 directory in the temp directory.
 */
export async function writeRedirectFile(url: string): Promise<RedirectFile> {
  const runtime = process.env.XDG_RUNTIME_DIR;
  let dir: string;
  let ownDir = false;
  if (runtime !== undefined && runtime !== "" && existsSync(runtime)) {
    dir = join(runtime, "jobexec");
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } else {
    dir = await mkdtemp(join(tmpdir(), "jobexec-ui-"));
    ownDir = true;
  }
  const path = join(dir, `ui-${process.pid}-open.html`);
  const target = htmlAttribute(url);
  const page = `<!doctype html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="0;url=${target}">\n<title>jobexec ui</title>\n<p><a href="${target}">Open the jobexec console</a></p>\n`;
  await rm(path, { force: true });
  await writeFile(path, page, { mode: 0o600, flag: "wx" });
  await chmod(path, 0o600);
  return { path, remove: () => rm(ownDir ? dir : path, { recursive: true, force: true }) };
}

/**
 * Opens a file in the user's browser: $BROWSER when set, else xdg-open (open on macOS). Resolves false when that
 * program cannot be started.
 */
export function openInBrowser(path: string): Promise<boolean> {
  const browser = process.env.BROWSER;
  const opener = browser !== undefined && browser !== "" ? browser : process.platform === "darwin" ? "open" : "xdg-open";
  return new Promise((resolve) => {
    const child = spawn(opener, [path], { detached: true, stdio: "ignore" });
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
}
