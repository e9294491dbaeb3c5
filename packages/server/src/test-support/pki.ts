// The test PKI: a throw-away CA, the server's certificate and three clients (two users and an admin). Not part of the
// build.
import { createCa, issueCertificate, type Credentials } from "../certificates/certificates.ts";

/** The test PKI's credentials, by role. */
export interface Pki {
  ca: Credentials;
  server: Credentials;
  alice: Credentials;
  bob: Credentials;
  admin: Credentials;
}

export async function createPki(): Promise<Pki> {
  const ca = await createCa("test CA");
  const [server, alice, bob, admin] = await Promise.all([
    issueCertificate(ca, { subject: { commonName: "jobexec-server" }, usage: "server", sans: ["localhost", "127.0.0.1", "::1"] }),
    issueCertificate(ca, { subject: { commonName: "alice" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "bob", organizationalUnit: "users" }, usage: "client" }),
    issueCertificate(ca, { subject: { commonName: "root", organizationalUnit: "admin" }, usage: "client" }),
  ]);
  return { ca, server, alice, bob, admin };
}
