import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { after, before, describe, test } from "node:test";
import { createCa, issueCertificate, type Credentials as Pem } from "@jobexec/server";
import type { Credentials } from "./credentials.ts";
import { dialer } from "./tls-dialer.ts";

/** A TLS server (no client certificate asked) with the given certificate; its URL. */
async function tlsServer(servers: tls.Server[], credentials: Pem): Promise<URL> {
  const server = tls.createServer({ cert: credentials.cert, key: credentials.key, ALPNProtocols: ["h2"] }, (socket) => socket.end());
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return new URL(`https://127.0.0.1:${String((server.address() as AddressInfo).port)}`);
}

/** Dials `url` trusting `ca` only; the handshake's outcome: "ok" or the error's code. */
async function handshake(url: URL, ca: Pem, client: Pem): Promise<string> {
  const credentials: Credentials = { cert: Buffer.from(client.cert), key: Buffer.from(client.key), ca: Buffer.from(ca.cert), paths: { cert: "c", key: "k", ca: "a" } };
  const socket = dialer(url, credentials).dial();
  // once() rejects with the socket's error, if one comes first.
  const outcome = await once(socket, "secureConnect").then(() => "ok", (error: NodeJS.ErrnoException) => String(error.code));
  socket.destroy();
  return outcome;
}

describe("the TLS dialer trusts our CA and nothing else", () => {
  const servers: tls.Server[] = [];
  let ours: Pem;
  let other: Pem;
  let client: Pem;
  before(async () => {
    [ours, other] = await Promise.all([createCa("our CA"), createCa("another CA")]);
    client = await issueCertificate(ours, { subject: { commonName: "alice" }, usage: "client" });
  });
  after(() => {
    for (const server of servers) server.close();
  });

  test("a server whose certificate our CA signed is accepted", async () => {
    const url = await tlsServer(servers, await issueCertificate(ours, { subject: { commonName: "server" }, usage: "server", sans: ["127.0.0.1"] }));
    assert.equal(await handshake(url, ours, client), "ok");
  });

  test("a server whose certificate another CA signed is refused, also after our CA became the default", async () => {
    const url = await tlsServer(servers, await issueCertificate(other, { subject: { commonName: "server" }, usage: "server", sans: ["127.0.0.1"] }));
    assert.equal(await handshake(url, ours, client), "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  test("a CA file of several certificates (a bundle) trusts each of them", async () => {
    const url = await tlsServer(servers, await issueCertificate(ours, { subject: { commonName: "server" }, usage: "server", sans: ["127.0.0.1"] }));
    const bundle = { cert: `${other.cert.trim()}\n${ours.cert.trim()}\n`, key: "" };
    assert.equal(await handshake(url, bundle, client), "ok");
  });

  test("where Node can, our CA is the only certificate trusted by default: Node's bundled roots are never loaded", async (t) => {
    if (typeof tls.setDefaultCACertificates !== "function") return t.skip(`Node ${process.version} has no tls.setDefaultCACertificates: the CA is given as ca`);
    const url = await tlsServer(servers, await issueCertificate(ours, { subject: { commonName: "server" }, usage: "server", sans: ["127.0.0.1"] }));
    assert.equal(await handshake(url, ours, client), "ok");
    assert.deepEqual(tls.getCACertificates("default").map((pem) => pem.trim()), [ours.cert.trim()]);
  });
});
