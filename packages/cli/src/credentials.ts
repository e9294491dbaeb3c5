import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, win32 } from "node:path";
import { CliError } from "./errors.ts";

/** The PEM files that identify the client and authenticate the server. */
export interface Credentials {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  /** Where each came from, for error messages. */
  paths: { cert: string; key: string; ca: string };
}

/** The file paths given on the command line or in the environment; unset ones use the config directory. */
export interface CredentialPaths {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
  /** The context these paths came from, if they did (named in error messages). */
  context?: { name: string; keys: string[] } | undefined;
  /** Where each given path came from, `--cert` or `JOBEXEC_CERT` (named in error messages); unknown: both are. */
  origins?: Partial<Record<"cert" | "key" | "ca", string>> | undefined;
}

/**
 * The directory of the client's credentials and contexts (where `jobexec-server certs init` writes them):
 * $JOBEXEC_CONFIG_DIR, else on Windows %APPDATA%\jobexec, else (Linux, macOS) $XDG_CONFIG_HOME/jobexec, else
 * ~/.config/jobexec.
 */
export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.JOBEXEC_CONFIG_DIR) return env.JOBEXEC_CONFIG_DIR;
  if (platform === "win32") return win32.join(env.APPDATA || win32.join(homedir(), "AppData", "Roaming"), "jobexec");
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "jobexec");
}

const files = {
  cert: { name: "client certificate", flag: "--cert", env: "JOBEXEC_CERT", file: "client.pem" },
  key: { name: "client key", flag: "--key", env: "JOBEXEC_KEY", file: "client.key" },
  ca: { name: "CA certificate", flag: "--ca", env: "JOBEXEC_CA", file: "ca.pem" },
} as const;

/** Reads the three credential files, failing with a message that names the file and how to set it. */
export function readCredentials(given: CredentialPaths, env: NodeJS.ProcessEnv = process.env): Credentials {
  const dir = configDir(env);
  const paths = {
    cert: given.cert ?? join(dir, files.cert.file),
    key: given.key ?? join(dir, files.key.file),
    ca: given.ca ?? join(dir, files.ca.file),
  };
  const read = (which: keyof typeof files): Buffer => {
    const { name, flag, env: variable } = files[which];
    const path = paths[which];
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const problem = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable (permission denied)" :
        code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? String(error)})`;
      const hint = given[which] === undefined ? defaultHint(which, dir) :
        given.context?.keys.includes(which) ? `; it is the ${flag.slice(2)} of context "${given.context.name}" (\`jobexec context list\`)` : `; check ${given.origins?.[which] ?? `${flag} or ${variable}`}`;
      throw new CliError("credentials", `${name} file ${path} ${problem}${hint}`, { cause: error });
    }
    if (data.length === 0) throw new CliError("credentials", `${name} file ${path} is empty; check ${given.origins?.[which] ?? `${flag} or ${variable}`}`);
    return data;
  };
  return { cert: read("cert"), key: read("key"), ca: read("ca"), paths };
}

// A default file that is missing: where the real one comes from. `certs init` makes a CA of its own, which a server
// that already runs does not trust: it is only the way for a server of your own.
function defaultHint(which: keyof typeof files, dir: string): string {
  const own = `(or, for a server of your own, run \`jobexec-server certs init\` to create ${dir})`;
  if (which === "ca") {
    return `; get the server's CA certificate from its administrator and put it there or set --ca or JOBEXEC_CA ${own}`;
  }
  return `; get a client certificate and key from the server's administrator (\`jobexec-server certs issue\`) and set --cert and --key (or JOBEXEC_CERT and JOBEXEC_KEY) ${own}`;
}
