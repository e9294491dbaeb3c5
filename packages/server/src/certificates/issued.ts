// Which client identities a CA directory has issued certificates for: so that no name is issued twice by mistake.
import { X509Certificate } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** One client certificate a CA directory issued. */
export interface IssuedCertificate {
  /** The subject CN: the identity. */
  name: string;
  admin: boolean;
  /** Where it was written. */
  file: string;
  serial: string;
  /** ISO time it expires. */
  notAfter: string;
}

/** The ledger beside the CA key: every client certificate `certs init` and `certs issue` wrote with it. */
export const LEDGER = "issued.json";

/** What the certificate in PEM `pem`, written at `file`, says about its holder. */
export function describeCertificate(pem: string, file: string): IssuedCertificate {
  const cert = new X509Certificate(pem);
  return {
    name: /^CN=(.*)$/m.exec(cert.subject)?.[1] ?? "",
    admin: /^OU=admin$/m.test(cert.subject),
    file,
    serial: cert.serialNumber,
    notAfter: cert.validToDate.toISOString(),
  };
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Every client certificate the CA in `dir` is known to have issued: the ledger's entries, and (for directories
 * made before the ledger existed) the admin's `client.pem` and what `clients/` holds.
 */
export async function issuedCertificates(dir: string): Promise<IssuedCertificate[]> {
  const ledger = await readIfThere(join(dir, LEDGER));
  const found = ledger === undefined ? [] : (JSON.parse(ledger) as { issued: IssuedCertificate[] }).issued;
  const files = [join(dir, "client.pem")];
  try {
    files.push(...(await readdir(join(dir, "clients"))).filter((name) => name.endsWith(".pem")).map((name) => join(dir, "clients", name)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  for (const file of files) {
    const pem = await readIfThere(file);
    if (pem === undefined) continue;
    const cert = describeCertificate(pem, file);
    if (!found.some((known) => known.serial === cert.serial)) found.push(cert);
  }
  return found;
}

/** The ledger's text after `added`, dropping the entries it replaces. */
export function ledgerText(issued: readonly IssuedCertificate[], added: IssuedCertificate, replaced: readonly IssuedCertificate[]): string {
  const kept = issued.filter((entry) => !replaced.includes(entry));
  return `${JSON.stringify({ version: 1, issued: [...kept, added] }, null, 2)}\n`;
}

/** "the admin certificate for alice in FILE (valid until DATE)". */
export function describeIssued(entry: IssuedCertificate): string {
  return `the ${entry.admin ? "admin" : "user"} certificate for ${entry.name} in ${entry.file} (valid until ${entry.notAfter.slice(0, 10)})`;
}
