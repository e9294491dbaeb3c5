import "reflect-metadata";
import { createHash, createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { hostname } from "node:os";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface Credentials {
  cert: string;
  key: string;
}

/** Distinguished name fields the server reads: CN is the identity, OU "admin" the admin role. */
export interface Subject {
  commonName?: string;
  organizationalUnit?: string;
}

/** Days a CA certificate is valid by default. */
export const CA_VALIDITY_DAYS = 3650;
/** Days a server or client certificate is valid by default. */
export const LEAF_VALIDITY_DAYS = 365;

/** Options of {@link issueCertificate}; the non-default values exist for tests of refusals. */
export interface IssueOptions {
  subject: Subject;
  /** "client" adds the clientAuth extended key usage, "server" serverAuth; "none" leaves the extension out. */
  usage: "client" | "server" | "none";
  /** DNS names and IP addresses. */
  sans?: string[];
  /** Default: five minutes ago (tolerates clock skew between hosts). */
  notBefore?: Date;
  /** Default: notBefore plus {@link LEAF_VALIDITY_DAYS}. */
  notAfter?: Date;
  /** Default ECDSA P-256; an RSA key of the given size otherwise. */
  rsaBits?: number;
  /** Signature hash; default SHA-256. */
  hash?: "SHA-256" | "SHA-1";
}

const ecdsa = { name: "ECDSA", namedCurve: "P-256" } as const;
const day = 24 * 60 * 60 * 1000;

/**
 * Creates a self-signed ECDSA P-256 certificate authority valid for {@link CA_VALIDITY_DAYS}. Its default name says
 * where it was made and which key it has, "jobexec CA on build-3 (key 1a2b3c4d)", so that two installations' CAs
 * can be told apart.
 */
export async function createCa(commonName?: string, validityDays = CA_VALIDITY_DAYS): Promise<Credentials> {
  const keys = await webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", keys.publicKey));
  const name = commonName ?? `jobexec CA on ${hostname()} (key ${createHash("sha256").update(spki).digest("hex").slice(0, 8)})`;
  const notBefore = skewedNow();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: distinguishedName({ commonName: name }),
    notBefore,
    notAfter: new Date(notBefore.getTime() + validityDays * day),
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

/** Issues a certificate signed by `issuer` (an ECDSA P-256 CA from {@link createCa}). */
export async function issueCertificate(issuer: Credentials, options: IssueOptions): Promise<Credentials> {
  const caCert = new x509.X509Certificate(issuer.cert);
  const caKey = await webcrypto.subtle.importKey("pkcs8", pemBody(issuer.key), ecdsa, false, ["sign"]);
  const keys = await generateLeafKeys(options.rsaBits);
  const notBefore = options.notBefore ?? skewedNow();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | (options.rsaBits ? x509.KeyUsageFlags.keyEncipherment : 0),
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  if (options.usage !== "none") {
    const purpose = options.usage === "client" ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth;
    extensions.push(new x509.ExtendedKeyUsageExtension([purpose]));
  }
  if (options.sans && options.sans.length > 0) {
    const names = options.sans.map((name) => ({ type: isIP(name) ? ("ip" as const) : ("dns" as const), value: name }));
    extensions.push(new x509.SubjectAlternativeNameExtension(names));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: distinguishedName(options.subject),
    issuer: caCert.subject,
    notBefore,
    notAfter: options.notAfter ?? new Date(notBefore.getTime() + LEAF_VALIDITY_DAYS * day),
    signingAlgorithm: { name: "ECDSA", hash: options.hash ?? "SHA-256" },
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions,
  });
  return { cert: cert.toString("pem"), key: await exportKey(keys.privateKey) };
}

async function generateLeafKeys(rsaBits: number | undefined): Promise<CryptoKeyPair> {
  if (rsaBits === undefined) return webcrypto.subtle.generateKey(ecdsa, true, ["sign", "verify"]);
  const rsa = { name: "RSASSA-PKCS1-v1_5", modulusLength: rsaBits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
  return webcrypto.subtle.generateKey(rsa, true, ["sign", "verify"]);
}

// x509 names are strings in RFC 4514 form: escape what would break the syntax.
function distinguishedName(subject: Subject): string {
  const parts: string[] = [];
  if (subject.commonName !== undefined) parts.push(`CN=${escapeRdn(subject.commonName)}`);
  if (subject.organizationalUnit !== undefined) parts.push(`OU=${escapeRdn(subject.organizationalUnit)}`);
  return parts.join(", ");
}

function escapeRdn(value: string): string {
  return value.replace(/[,+"\\<>;=#]/g, (c) => `\\${c}`);
}

// A positive 128-bit serial (RFC 5280 allows up to 20 octets; the top bit is cleared to keep it positive).
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function skewedNow(): Date {
  return new Date(Date.now() - 5 * 60 * 1000);
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({ format: "pem", type: "pkcs8" }).toString();
}

function pemBody(pem: string): Buffer {
  return createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
}
