import { Code, ConnectError } from "@connectrpc/connect";
import { CliError } from "./errors.ts";
import { describeOrigin, type EffectiveSettings } from "./settings-origin.ts";

/** What the command was doing, to make messages specific. */
export interface ErrorContext {
  /** The server as HOST:PORT. */
  server: string;
  /** The job the command is about, if any. */
  jobId?: string | undefined;
  /** The TLS handshake completed but no call was answered: a hang-up is the server refusing our certificate. */
  hungUpAfterHandshake?: boolean;
  /** Why our client certificate would be refused, judged locally (see client-certificate.ts). */
  certificateProblem?: () => string | undefined;
  /** Whether a TLS handshake with the server completed: a reset before it was no jobexec server answering. */
  handshakeDone?: boolean | undefined;
  /** The connection settings and where each came from, named in connection errors. */
  settings?: EffectiveSettings | undefined;
}

// Error codes Node and OpenSSL put on connection failures, walked through the `cause` chain.
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

function rootMessage(error: unknown): string {
  let e = error;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

// The hints of TLS failures name the files in use and where each setting came from (a flag, a variable, a context,
// the default): a server address from one place and a CA from another is the usual mistake.
function caHint(context: ErrorContext): string {
  const settings = context.settings;
  if (settings === undefined) return "check --ca / JOBEXEC_CA";
  const { server, ca } = settings;
  const mixed = server.origin !== ca.origin ? `; the address and the CA came from different places (${server.origin}, ${ca.origin})` : "";
  return `our CA is ${ca.value} (${describeOrigin(ca)}) and the address ${server.value} (${describeOrigin(server)})${mixed}: ` +
    "check --ca / JOBEXEC_CA and --server / JOBEXEC_SERVER, and get the server's CA certificate from its administrator";
}

function certHint(context: ErrorContext): string {
  const settings = context.settings;
  if (settings === undefined) return "check --cert / JOBEXEC_CERT";
  const { cert, server } = settings;
  return `our client certificate is ${cert.value} (${describeOrigin(cert)}), the address ${server.value} (${describeOrigin(server)}): check --cert / JOBEXEC_CERT`;
}

function addressHint(context: ErrorContext): string {
  const server = context.settings?.server;
  if (server === undefined) return "set the address with --server or JOBEXEC_SERVER";
  return `the address is ${describeOrigin(server)}; set it with --server or JOBEXEC_SERVER`;
}

function pairHint(context: ErrorContext): string {
  const settings = context.settings;
  if (settings === undefined) return "check --key / JOBEXEC_KEY and --cert / JOBEXEC_CERT";
  const { cert, key } = settings;
  return `the key is ${key.value} (${describeOrigin(key)}), the certificate ${cert.value} (${describeOrigin(cert)}): check --key / JOBEXEC_KEY and --cert / JOBEXEC_CERT`;
}

type Hints = { ca: string; cert: string; pair: string; address: string };

// One-line explanations of TLS failures: first our verification of the server, then the server's alerts about us.
const tlsMessages: Record<string, (server: string, detail: string, hint: Hints) => string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: (s, _, h) => `TLS: the certificate of ${s} is not signed by our CA (unknown CA); ${h.ca}`,
  UNABLE_TO_GET_ISSUER_CERT: (s, _, h) => `TLS: the certificate of ${s} is not signed by our CA (unknown CA); ${h.ca}`,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: (s, _, h) => `TLS: the certificate of ${s} is not signed by our CA (unknown CA); ${h.ca}`,
  SELF_SIGNED_CERT_IN_CHAIN: (s, _, h) => `TLS: the certificate of ${s} is not signed by our CA (unknown CA); ${h.ca}`,
  DEPTH_ZERO_SELF_SIGNED_CERT: (s, _, h) => `TLS: ${s} presented a self-signed certificate our CA did not issue; ${h.ca}`,
  CERT_SIGNATURE_FAILURE: (s, _, h) => `TLS: the certificate of ${s} has a bad signature; ${h.ca}`,
  CERT_HAS_EXPIRED: (s) => `TLS: the certificate of ${s} has expired; the server needs a new certificate`,
  CERT_NOT_YET_VALID: (s) => `TLS: the certificate of ${s} is not valid yet (check the clocks)`,
  ERR_TLS_CERT_ALTNAME_INVALID: (s, d) => `TLS: the certificate of ${s} is not valid for that name (hostname mismatch: ${d}); use the name or address the certificate was issued for in --server`,
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: (s, _, h) => `TLS: ${s} rejected our client certificate: it was not issued by a CA the server trusts (unknown CA); ${h.cert}`,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: (s, _, h) => `TLS: ${s} rejected our client certificate: it has expired; get a new one (${h.cert})`,
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: (s, _, h) => `TLS: ${s} requires a client certificate and got none (certificate required); ${h.cert}`,
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: (s, _, h) => `TLS: ${s} rejected our client certificate as bad; ${h.cert}`,
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: (s, _, h) => `TLS: ${s} rejected our client certificate as unsupported (key type or usage); ${h.cert}`,
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: (s, _, h) => `TLS: ${s} denied access to our client certificate; ${h.cert}`,
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: (s, _, h) => `TLS: ${s} could not verify our client certificate's signature; ${h.cert}`,
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: (s) => `TLS: ${s} does not support our TLS version`,
  ERR_SSL_WRONG_VERSION_NUMBER: (s, _, h) => `something answered at ${s} that is not a jobexec server: it did not answer with TLS; check the address (${h.address})`,
  ERR_SSL_PACKET_LENGTH_TOO_LONG: (s, _, h) => `something answered at ${s} that is not a jobexec server: it did not answer with TLS; check the address (${h.address})`,
  ERR_OSSL_X509_KEY_VALUES_MISMATCH: (_s, _d, h) => `client key does not match the client certificate; ${h.pair}`,
  ERR_OSSL_PEM_NO_START_LINE: () => "a credential file is not in PEM format; check --cert, --key and --ca",
};

const unreachable: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
};

/**
 * Turns any failure of a call into a {@link CliError} with one actionable line: unreachable server, TLS refusal
 * (which side and why), missing job, permission denied, refused request.
 */
export function describeError(error: unknown, context: ErrorContext): CliError {
  if (error instanceof CliError) return error;
  const codes = errorCodes(error);
  const detail = rootMessage(error);
  for (const code of codes) {
    const tls = tlsMessages[code];
    if (tls) return new CliError(code.startsWith("ERR_OSSL") ? "credentials" : "tls", tls(context.server, detail, { ca: caHint(context), cert: certHint(context), pair: pairHint(context), address: addressHint(context) }), { cause: error });
  }
  const serverAnswered = error instanceof ConnectError && ![Code.Canceled, Code.Aborted, Code.Unavailable, Code.Internal, Code.Unknown].includes(error.code);
  if (context.hungUpAfterHandshake && !serverAnswered) {
    const problem = context.certificateProblem?.();
    return new CliError("tls", problem === undefined ?
      `TLS: ${context.server} hung up right after the handshake: it refused our client certificate (not issued by its CA, expired, revoked or unsuitable); ${certHint(context)}` :
      `TLS: ${context.server} refused our client certificate: ${problem}; ${certHint(context)}`, { cause: error });
  }
  for (const code of codes) {
    const why = unreachable[code];
    // A connection that opened, then was reset or closed before any TLS handshake: what listens there is not a
    // jobexec server (which answers a ClientHello), or one closing connections on accept at its --max-connections.
    if (why && (code === "ECONNRESET" || code === "EPIPE") && context.handshakeDone === false) {
      return new CliError("unreachable", `something answered at ${context.server} that is not a jobexec server (or one at its --max-connections): ` +
        `${why} during the TLS handshake; check the address (${addressHint(context)})`, { cause: error });
    }
    if (why) {
      return new CliError("unreachable", `cannot reach jobexec-server at ${context.server}: ${why}; is it running? (${addressHint(context)})`, { cause: error });
    }
  }
  const tlsCode = codes.find((c) => c.startsWith("ERR_SSL_") || c.startsWith("ERR_TLS_"));
  if (tlsCode) return new CliError("tls", `TLS: connection to ${context.server} failed: ${detail} (${tlsCode})`, { cause: error });
  if (!(error instanceof ConnectError)) return new CliError("failed", detail, { cause: error });
  const message = error.rawMessage;
  switch (error.code) {
    case Code.NotFound:
      return new CliError("not-found", context.jobId === undefined ? `not found: ${message}` : `job ${context.jobId} not found`, { cause: error });
    case Code.PermissionDenied:
      return new CliError("permission-denied", `permission denied: ${message}`, { cause: error });
    case Code.Unauthenticated:
      return new CliError("permission-denied", `${context.server} did not accept our identity: ${message}; ${certHint(context)}`, { cause: error });
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.OutOfRange:
      return new CliError("invalid-argument", `${context.server} refused the request: ${message}`, { cause: error });
    case Code.Unavailable:
      return new CliError("unreachable", `jobexec-server at ${context.server} is unavailable: ${message}`, { cause: error });
    case Code.DeadlineExceeded:
      return new CliError("failed", `jobexec-server at ${context.server} did not answer in time: ${message}`, { cause: error });
    case Code.ResourceExhausted:
      return new CliError("failed", `${context.server} refused the request: ${message}`, { cause: error });
    case Code.Internal:
      // The server's own failure, with the reference of its log line: never a certificate problem.
      return new CliError("failed", `jobexec-server at ${context.server} failed: ${message}`, { cause: error });
    default:
      return new CliError("failed", `${context.server}: ${message} (${Code[error.code]})`, { cause: error });
  }
}
