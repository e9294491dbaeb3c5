import { parseArgs } from "node:util";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { initCertificates, issueClientCertificate, LOCAL_SANS } from "./cert-files.ts";
import { describeCertificate, LEDGER } from "./issued.ts";
import { CA_VALIDITY_DAYS, LEAF_VALIDITY_DAYS } from "./certificates.ts";
import { DEFAULT_PORT } from "../settings/config.ts";
import { ServerError } from "../error.ts";
import { flagError } from "../settings/flag-error.ts";
import { defaultConfigDir } from "../settings/paths.ts";

/** The help text of `jobexec-server certs`. */
export function certsHelp(env: Record<string, string | undefined> = process.env): string {
  return [
    "Usage: jobexec-server certs init [--dir DIR] [--san NAME]... [--user NAME] [--force]",
    "       jobexec-server certs issue --user NAME [--admin] [--bundle] [--dir DIR] [--out DIR] [--force]",
    "",
    "init   creates DIR/ca.pem+ca.key (the CA), DIR/server.pem+server.key (names localhost, 127.0.0.1, ::1 and each",
    "       --san) and DIR/client.pem+client.key, an admin client certificate for --user (default $USER, else admin)",
    "       that the jobexec CLI uses by default.",
    "issue  issues a client certificate for --user with the CA in DIR, written to OUT/NAME.pem and OUT/NAME.key",
    "       (OUT defaults to DIR/clients); --admin gives it the admin role (OU=admin), which may act on every job.",
    "       A name the CA already issued a certificate for (the admin's of init included) is refused: the server",
    "       knows users by name only. --force issues it anyway and says which certificate it replaces, which stays",
    `       valid until it expires (the CA keeps the list in DIR/${LEDGER}). It prints what to hand over: the`,
    "       certificate, its key and the CA's certificate (DIR/ca.pem), and the `jobexec context add` line that",
    "       sets them up; --bundle also writes OUT/NAME.bundle.pem, the three in one file (mode 0600), which",
    "       `jobexec context add NAME --server HOST:PORT --bundle FILE` imports.",
    "",
    `DIR defaults to $JOBEXEC_CONFIG_DIR, else \${XDG_CONFIG_HOME:-~/.config}/jobexec (here ${defaultConfigDir(env)}).`,
    `Keys are ECDSA P-256, written with mode 0600; the CA is valid ${CA_VALIDITY_DAYS} days, other certificates`,
    `${LEAF_VALIDITY_DAYS} days. Existing files are never replaced without --force.`,
    "",
  ].join("\n");
}

/** Runs `jobexec-server certs ...`; returns the lines to print. Throws ServerError on bad usage or a failure. */
export async function certsCommand(args: string[], env: Record<string, string | undefined> = process.env): Promise<string> {
  const [sub, ...rest] = args;
  let values;
  const options = {
    dir: { type: "string" },
    san: { type: "string", multiple: true },
    user: { type: "string" },
    admin: { type: "boolean" },
    out: { type: "string" },
    force: { type: "boolean" },
    bundle: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  } as const;
  try {
    ({ values } = parseArgs({ args: rest, strict: true, allowPositionals: false, options }));
  } catch (cause) {
    throw flagError(cause, Object.keys(options), "jobexec-server certs --help");
  }
  if (sub === undefined || sub === "--help" || sub === "-h" || values.help) return certsHelp(env);
  const dir = values.dir ?? defaultConfigDir(env);
  const force = values.force ?? false;
  if (sub === "init") {
    if (values.admin !== undefined || values.out !== undefined || values.bundle !== undefined) throw new ServerError("usage", "certs init takes --dir, --san, --user and --force");
    const result = await initCertificates(dir, { sans: values.san ?? [], force, ...(values.user === undefined ? {} : { user: values.user }) });
    return `created CA ${result.ca} (${result.caName}), server certificate ${result.server} and admin client certificate ${result.client} for ${result.user}\n`;
  }
  if (sub === "issue") {
    if (values.user === undefined) throw new ServerError("usage", "certs issue needs --user NAME");
    if (values.san !== undefined) throw new ServerError("usage", "certs issue takes no --san (client certificates name no host)");
    const user = values.user;
    const { path, bundle, replaced } = await issueClientCertificate(dir, user, { admin: values.admin ?? false, force, bundle: values.bundle ?? false, ...(values.out === undefined ? {} : { out: values.out }) });
    const replacing = replaced.map((what) => `replaced ${what}; it stays valid until then (there is no revocation): delete it where it was handed out\n`);
    return `issued ${values.admin ? "admin" : "user"} client certificate ${path} for ${user}\n${replacing.join("")}${await handOver(dir, user, path, bundle)}`;
  }
  throw new ServerError("usage", `unknown certs command ${JSON.stringify(sub)}; use init or issue`);
}

/**
 * What to give the holder of a new client certificate, and the command that sets them up: the certificate, its key
 * and the CA's certificate (without which the CLI cannot check the server; `certs init` on their side would make a
 * CA this server does not trust), or the one bundle file holding the three. The address is the first name of the
 * server's certificate that is not a local one.
 */
async function handOver(dir: string, user: string, certPath: string, bundle: string | undefined): Promise<string> {
  const keyPath = certPath.replace(/\.pem$/, ".key");
  const caPath = join(dir, "ca.pem");
  const caName = describeCertificate(await readFile(caPath, "utf8"), caPath).name;
  const host = await serverName(dir);
  const address = `${host.includes(":") ? `[${host}]` : host}:${DEFAULT_PORT}`;
  const context = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(host) && host !== "default" ? host : "jobexec";
  const port = `${DEFAULT_PORT}: the port of the server's --listen`;
  const use = `&& jobexec context use ${context}`;
  if (bundle !== undefined) {
    return [
      `hand this one file to ${user}, privately (it holds the key: whoever has it is ${user} to the server):`,
      `  ${bundle}  the client certificate, its key and the CA's certificate (${caName})`,
      `${user} then runs, with the file in the current directory (${port}):`,
      `  jobexec context add ${context} --server ${address} --bundle ${basename(bundle)} ${use}`,
      "",
    ].join("\n");
  }
  return [
    `hand these three files to ${user} (the key privately: whoever holds it is ${user} to the server):`,
    `  ${certPath}  the client certificate`,
    `  ${keyPath}  its key`,
    `  ${caPath}  the CA's certificate (${caName}), with which the CLI checks the server`,
    `${user} then runs, with the three files in the current directory (${port}):`,
    `  jobexec context add ${context} --server ${address} --cert ${basename(certPath)} --key ${basename(keyPath)} --ca ca.pem ${use}`,
    "",
  ].join("\n");
}
async function serverName(dir: string): Promise<string> {
  try {
    const names = new X509Certificate(await readFile(join(dir, "server.pem"))).subjectAltName?.split(", ") ?? [];
    // Node spells IPv6 addresses out in full (0:0:0:0:0:0:0:1): compare them in their short form.
    const short = (name: string): string => (name.includes(":") ? new URL(`http://[${name}]`).hostname.slice(1, -1) : name);
    const found = names.map((name) => short(name.replace(/^(DNS|IP Address):/, ""))).find((name) => !LOCAL_SANS.includes(name));
    return found ?? "127.0.0.1";
  } catch {
    // No server certificate here (the CA lives apart from the server): the user fills in the address.
    return "SERVER-HOST";
  }
}
