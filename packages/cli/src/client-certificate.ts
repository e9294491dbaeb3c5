import { X509Certificate } from "node:crypto";
import type { Credentials } from "./credentials.ts";

const clientAuth = "1.3.6.1.5.5.7.3.2";

function certificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.flatMap((block) => {
    try {
      return [new X509Certificate(block)];
    } catch {
      return [];
    }
  });
}

/**
 * Why the server would refuse our client certificate, judged locally, or undefined when it looks fine. A Node
 * server that refuses a client certificate just closes the connection after the handshake, without a TLS alert,
 * so this is how the CLI can still say why: expired, not yet valid, not issued by the CA we trust (which is the
 * deployment's CA), not meant for client authentication, or cryptographically weak.
 */
export function clientCertificateProblem(credentials: Credentials, now: Date = new Date()): string | undefined {
  const [cert] = certificates(credentials.cert);
  const path = credentials.paths.cert;
  if (cert === undefined) return `the client certificate ${path} is not a PEM certificate`;
  if (cert.validToDate < now) return `our client certificate ${path} expired on ${cert.validToDate.toISOString()}`;
  if (cert.validFromDate > now) return `our client certificate ${path} is not valid before ${cert.validFromDate.toISOString()}`;
  const issuedByOurCa = certificates(credentials.ca).some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuedByOurCa) {
    return `our client certificate ${path} was not issued by the CA in ${credentials.paths.ca} (its issuer is "${cert.issuer.replaceAll("\n", ", ")}"): the server does not know its CA (unknown CA)`;
  }
  const usages = cert.keyUsage;
  if (usages !== undefined && !usages.includes(clientAuth)) {
    return `our client certificate ${path} is not for client authentication (it lacks the clientAuth extended key usage)`;
  }
  // What OpenSSL security level 2 (the server's) refuses: SHA-1 or MD5 signatures, RSA keys under 2048 bits.
  const algorithm = cert.signatureAlgorithm ?? "";
  if (/sha1|md5/i.test(algorithm)) return `our client certificate ${path} has a weak signature (${algorithm})`;
  const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength;
  if (cert.publicKey.asymmetricKeyType === "rsa" && bits !== undefined && bits < 2048) {
    return `our client certificate ${path} has a weak ${bits}-bit RSA key (2048 bits at least)`;
  }
  return undefined;
}
