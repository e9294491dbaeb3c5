import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { SecureServerOptions } from "node:http2";
import { DEFAULT_CIPHERS } from "node:tls";
import { ServerError } from "../error.ts";

/** The server's TLS material, PEM. */
export interface ServerTls {
  /** Server certificate, optionally followed by intermediates. */
  cert: string;
  /** Server private key. */
  key: string;
  /** CA certificate(s) client certificates must chain to. */
  clientCa: string;
}

const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const MIN_RSA_BITS = 2048;

/**
 * Checks the server's own material before listening: a certificate that is expired or not yet valid, a key that does
 * not match it, or an unparsable CA fails with a one-line ServerError (code "tls"). `names` say where each came from.
 */
export function checkServerTls(tls: ServerTls, names: { cert: string; key: string; clientCa: string }, now = new Date()): void {
  const cert = parse(tls.cert, names.cert, "certificate");
  if (cert.validToDate < now) throw new ServerError("tls", `server certificate ${names.cert} expired on ${cert.validToDate.toISOString()}`);
  if (cert.validFromDate > now) throw new ServerError("tls", `server certificate ${names.cert} is not valid before ${cert.validFromDate.toISOString()}`);
  let key;
  try {
    key = createPrivateKey(tls.key);
  } catch (cause) {
    throw new ServerError("tls", `server key ${names.key} is not a readable PEM private key`, { cause });
  }
  if (!cert.checkPrivateKey(key)) throw new ServerError("tls", `server key ${names.key} does not match certificate ${names.cert}`);
  parse(tls.clientCa, names.clientCa, "client CA certificate");
}

/**
 * Options of the HTTP/2 server: TLS 1.3 only, a client certificate required and verified against the client CA at
 * OpenSSL security level 2 (no RSA below 2048 bits, no SHA-1 signatures), h2 plus HTTP/1.1 for Connect and gRPC-Web.
 */
export function secureServerOptions(tls: ServerTls): SecureServerOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.clientCa,
    minVersion: "TLSv1.3",
    requestCert: true,
    rejectUnauthorized: true,
    // Pinned rather than inherited from openssl.cnf, which a distribution may lower.
    ciphers: `${DEFAULT_CIPHERS}:@SECLEVEL=2`,
    allowHTTP1: true,
  };
}

/**
 * Why a client certificate that OpenSSL accepted must still be refused, or undefined when it is fine. OpenSSL checks
 * the chain, the dates and (with a purpose) an extended key usage when one is present; this also requires the
 * clientAuth usage to be present and re-checks key size and signature hash whatever OpenSSL's configuration is.
 */
export function clientCertificateProblem(cert: X509Certificate): string | undefined {
  const usages = cert.keyUsage ?? [];
  if (!usages.includes(CLIENT_AUTH)) return "client certificate is not for client authentication (it lacks the clientAuth extended key usage)";
  const details = cert.publicKey.asymmetricKeyDetails;
  if (cert.publicKey.asymmetricKeyType === "rsa" && (details?.modulusLength ?? 0) < MIN_RSA_BITS) {
    return `client certificate's RSA key has ${details?.modulusLength ?? 0} bits; at least ${MIN_RSA_BITS} are required`;
  }
  if (/sha1/i.test(cert.signatureAlgorithm ?? "")) return "client certificate is signed with SHA-1, which is not accepted";
  return undefined;
}

/** Reads a PEM file, failing with a ServerError (code "tls") that names the file. */
export async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new ServerError("tls", `${path} ${reason} (create certificates with "jobexec-server certs init")`, { cause });
  }
}

function parse(pem: string, name: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new ServerError("tls", `${what} ${name} is not a readable PEM certificate`, { cause });
  }
}
