import { constants } from "node:fs";
import { access, chmod, mkdir, open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createCa, issueCertificate, type Credentials } from "./certificates.ts";
import { ServerError } from "../error.ts";
import { describeCertificate, describeIssued, issuedCertificates, LEDGER, ledgerText } from "./issued.ts";
import { readPem } from "../network/tls.ts";

/** Options of {@link initCertificates}. */
export interface InitOptions {
  /** Extra server names (DNS names or IP addresses) besides localhost, 127.0.0.1 and ::1. */
  sans?: string[];
  /** Identity of the admin client certificate; default `$USER`, else "admin". */
  user?: string;
  /** Replace existing files. */
  force?: boolean;
}

/** Files written by {@link initCertificates}. */
export interface InitResult {
  ca: string;
  /** The CA's name (its CN): "jobexec CA on HOST (key FINGERPRINT)". */
  caName: string;
  server: string;
  client: string;
  user: string;
}

/** The names every server certificate carries. */
export const LOCAL_SANS: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/**
 * Bootstraps `dir`: a CA (`ca.pem`, `ca.key`), a server certificate (`server.pem`, `server.key`) and an admin client
 * certificate for `user` (`client.pem`, `client.key`). Refuses to replace any existing file unless `force`.
 */
export async function initCertificates(dir: string, options: InitOptions = {}): Promise<InitResult> {
  const user = validUser(options.user ?? (process.env.USER || "admin"));
  const names = ["ca", "server", "client"];
  if (!options.force) await refuseExisting(names.flatMap((name) => [join(dir, `${name}.pem`), join(dir, `${name}.key`)]));
  const ca = await createCa();
  const sans = [...new Set([...LOCAL_SANS, ...(options.sans ?? [])])];
  const server = await issueCertificate(ca, { subject: { commonName: "jobexec-server" }, usage: "server", sans });
  const client = await issueCertificate(ca, { subject: { commonName: user, organizationalUnit: "admin" }, usage: "client" });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The CA key last: a run that fails halfway leaves no CA that could issue for a half-written directory.
  await writeCredentials(dir, "server", server);
  await writeCredentials(dir, "client", client);
  // A new CA has issued nothing but the admin's certificate.
  await writeAtomically(join(dir, LEDGER), ledgerText([], describeCertificate(client.cert, join(dir, "client.pem")), []), 0o600);
  await writeCredentials(dir, "ca", ca);
  const caName = describeCertificate(ca.cert, join(dir, "ca.pem")).name;
  return { ca: join(dir, "ca.pem"), caName, server: join(dir, "server.pem"), client: join(dir, "client.pem"), user };
}

/** Options of {@link issueClientCertificate}. */
export interface IssueClientOptions {
  /** Give the certificate the admin role (OU=admin). */
  admin?: boolean;
  /** Output directory; default `<dir>/clients`. */
  out?: string;
  /** Replace existing files. */
  force?: boolean;
  /** Also write `<out>/<user>.bundle.pem`: the certificate, its key and the CA's certificate in one file (0600). */
  bundle?: boolean;
}

/** What {@link issueClientCertificate} wrote, and what it replaced. */
export interface IssueResult {
  /** The certificate file. */
  path: string;
  /** The bundle file, when asked for. */
  bundle?: string;
  /** With `force`: the earlier certificates for the same name, each described; they stay valid until they expire. */
  replaced: string[];
}

/**
 * Issues a client certificate for `user` with the CA in `dir`, written as `<out>/<user>.pem` and `.key`. A name the
 * CA already issued a certificate for (the admin's own included) is refused with ServerError "exists" unless
 * `force`, since two holders of one name are one identity to the server.
 */
export async function issueClientCertificate(dir: string, user: string, options: IssueClientOptions = {}): Promise<IssueResult> {
  validUser(user);
  const out = options.out ?? join(dir, "clients");
  const ca = await readCredentials(dir, "ca");
  const issued = await issuedCertificates(dir);
  const same = issued.filter((entry) => entry.name === user);
  if (!options.force) {
    if (same[0] !== undefined) {
      throw new ServerError("exists", `the CA in ${dir} already issued a certificate for ${user}: ${describeIssued(same[0])}; use --force to issue another (the earlier one stays valid until it expires)`);
    }
    await refuseExisting([join(out, `${user}.pem`), join(out, `${user}.key`), ...(options.bundle ? [join(out, `${user}.bundle.pem`)] : [])]);
  }
  const subject = { commonName: user, ...(options.admin ? { organizationalUnit: "admin" } : {}) };
  const client = await issueCertificate(ca, { subject, usage: "client" });
  await mkdir(out, { recursive: true, mode: 0o700 });
  await writeCredentials(out, user, client);
  const path = join(out, `${user}.pem`);
  // One file to hand over: `jobexec context add --bundle` takes it apart again (the CA's certificate is the one that
  // is a CA).
  const bundle = options.bundle ? join(out, `${user}.bundle.pem`) : undefined;
  if (bundle !== undefined) await writeAtomically(bundle, `${client.cert.trimEnd()}\n${client.key.trimEnd()}\n${ca.cert.trimEnd()}\n`, 0o600);
  await writeAtomically(join(dir, LEDGER), ledgerText(issued, describeCertificate(client.cert, path), same), 0o600);
  return { path, ...(bundle === undefined ? {} : { bundle }), replaced: same.map(describeIssued) };
}

/** Reads `<dir>/<name>.pem` and `<dir>/<name>.key`. */
export async function readCredentials(dir: string, name: string): Promise<Credentials> {
  // One after the other, so that of two missing files the certificate is always the one named.
  const cert = await readPem(join(dir, `${name}.pem`));
  const key = await readPem(join(dir, `${name}.key`));
  return { cert, key };
}

/** Writes `<dir>/<name>.pem` (mode 0644) and `<dir>/<name>.key` (mode 0600), each atomically. */
export async function writeCredentials(dir: string, name: string, credentials: Credentials): Promise<void> {
  await writeAtomically(join(dir, `${name}.key`), credentials.key, 0o600);
  await writeAtomically(join(dir, `${name}.pem`), credentials.cert, 0o644);
}

/**
 * Writes a file through a temp file created 0600 from the start, then renamed: a key is never readable by others,
 * not even briefly, and no reader ever sees half a file.
 */
export async function writeAtomically(path: string, data: string, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new ServerError("internal", `cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** ServerError "exists" for the first of `paths` that exists. */
export async function refuseExisting(paths: string[]): Promise<void> {
  for (const path of paths) {
    const exists = await access(path).then(() => true, () => false);
    if (exists) throw new ServerError("exists", `${path} already exists; use --force to replace it`);
  }
}

// The name becomes a file name and a certificate CN: keep it to a portable user-name alphabet.
function validUser(user: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/.test(user)) {
    throw new ServerError("usage", `invalid user name ${JSON.stringify(user)}: use letters, digits and . _ @ - (at most 64, not starting with . or -)`);
  }
  return user;
}
