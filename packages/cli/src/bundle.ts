import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configDir } from "./credentials.ts";
import { CliError } from "./errors.ts";

/** Where {@link importBundle} keeps a context's credentials: `<config dir>/contexts/<name>/`. */
export function bundleDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "contexts", name);
}

/**
 * Takes apart a credentials bundle (`jobexec-server certs issue --bundle`: the client certificate, its key and the
 * CA's certificate in one PEM file) into client.pem, client.key (0600) and ca.pem under {@link bundleDir}, after
 * checking that it holds exactly those and that the key is the certificate's. Returns the three paths.
 */
export function importBundle(file: string, name: string, env: NodeJS.ProcessEnv = process.env): { cert: string; key: string; ca: string } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError("credentials", `--bundle: ${file} is not readable (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  const bad = (why: string): CliError =>
    new CliError("credentials", `--bundle: ${file} ${why}; a bundle is what \`jobexec-server certs issue --bundle\` writes: a client certificate, its key and the CA's certificate`);
  const blocks = text.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g) ?? [];
  const certificates = blocks.filter((block) => block.startsWith("-----BEGIN CERTIFICATE-----")).map((pem) => {
    try {
      return { pem, x509: new X509Certificate(pem) };
    } catch {
      throw bad("holds a certificate that does not parse");
    }
  });
  const keys = blocks.filter((block) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(block));
  const client = certificates.filter((c) => !c.x509.ca);
  const ca = certificates.filter((c) => c.x509.ca);
  if (client.length !== 1 || ca.length !== 1 || keys.length !== 1) {
    throw bad(`holds ${client.length} client certificate(s), ${keys.length} key(s) and ${ca.length} CA certificate(s), not one of each`);
  }
  const [cert, caCert, key] = [client[0], ca[0], keys[0]] as [typeof client[number], typeof ca[number], string];
  let matches: boolean;
  try {
    matches = cert.x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    matches = false;
  }
  if (!matches) throw bad("holds a key that is not the client certificate's");
  if (!cert.x509.checkIssued(caCert.x509) || !cert.x509.verify(caCert.x509.publicKey)) throw bad("holds a client certificate its CA certificate did not issue");
  const dir = bundleDir(name, env);
  const paths = { cert: join(dir, "client.pem"), key: join(dir, "client.key"), ca: join(dir, "ca.pem") };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [path, data, mode] of [[paths.key, key, 0o600], [paths.cert, cert.pem, 0o644], [paths.ca, caCert.pem, 0o644]] as const) {
      const temp = `${path}.${process.pid}.tmp`;
      rmSync(temp, { force: true });
      writeFileSync(temp, `${data}\n`, { mode, flag: "wx" });
      renameSync(temp, path);
    }
  } catch (error) {
    throw new CliError("config", `cannot write the credentials of context "${name}" to ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  return paths;
}
