import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCa, issueCertificate } from "@jobexec/server";

/** Fresh mutual-TLS material for one run: files for the server child, PEM strings for the clients. */
export interface Tls {
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  ca: string;
  clientCert: string;
  clientKey: string;
  /** The client certificate and key as files too, for the CLI. */
  clientCertPath: string;
  clientKeyPath: string;
  /** Client certificates of plain users (not admins), for figures with several users. */
  users: { name: string; cert: string; key: string }[];
}

/** The plain users {@link createTls} issues certificates for. */
export const benchUsers = ["alice", "bob", "carol", "dave"] as const;

/**
 * Creates a CA, a server certificate for the loopback names an admin client certificate and one for each of {@link benchUsers}, with the server's own
 * certificate functions, and writes the files the server child reads into `dir`.
 */
export async function createTls(dir: string): Promise<Tls> {
  const ca = await createCa("jobexec bench CA");
  const server = await issueCertificate(ca, {
    subject: { commonName: "jobexec-server" },
    usage: "server",
    sans: ["localhost", "127.0.0.1", "::1"],
  });
  const client = await issueCertificate(ca, { subject: { commonName: "bench", organizationalUnit: "admin" }, usage: "client" });
  const users = await Promise.all(benchUsers.map(async (name) => ({ name, ...(await issueCertificate(ca, { subject: { commonName: name }, usage: "client" })) })));
  const tls: Tls = {
    caPath: join(dir, "ca.pem"),
    serverCertPath: join(dir, "server.pem"),
    serverKeyPath: join(dir, "server.key"),
    ca: ca.cert,
    clientCert: client.cert,
    clientKey: client.key,
    clientCertPath: join(dir, "client.pem"),
    clientKeyPath: join(dir, "client.key"),
    users: users.map(({ name, cert, key }) => ({ name, cert, key })),
  };
  await writeFile(tls.caPath, ca.cert);
  await writeFile(tls.serverCertPath, server.cert);
  await writeFile(tls.serverKeyPath, server.key, { mode: 0o600 });
  await writeFile(tls.clientCertPath, client.cert);
  await writeFile(tls.clientKeyPath, client.key, { mode: 0o600 });
  return tls;
}
