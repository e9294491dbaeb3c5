import assert from "node:assert/strict";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { after, before, describe, test } from "node:test";
import { createCa, issueCertificate } from "@jobexec/server";
import { runCli, startCliServer, type CliServer } from "./testing/cli-fixture.ts";

// Every failure class, produced for real: closed ports, refused certificates, wrong CAs, missing files. Each must
// be one line on stderr naming the cause, exit 1, and nothing on stdout.
const id = "00000000-0000-4000-8000-000000000000";

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("error messages", { timeout: 300_000 }, () => {
  let t: CliServer;
  const extraServers: Server[] = [];
  before(async () => {
    // No standbys: each start then makes its job's cgroup under the parent, which the INTERNAL test below removes
    // (standbys wait in cgroups made there ahead, so the parent could not be removed, and starts would not need it).
    t = await startCliServer({ standby: 0 });
  });
  after(async () => {
    for (const s of extraServers) s.close();
    await t.close();
  });

  async function fails(args: string[], message: RegExp, options: Parameters<typeof runCli>[2] = {}): Promise<void> {
    const result = await runCli(t, args, options);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^jobexec: [^\n]+\n$/, "one line");
    assert.match(result.stderr, message);
    assert.equal(result.stdout.length, 0);
  }

  test("server not reachable: a closed port", async () => {
    await fails(["status", id], /^jobexec: cannot reach jobexec-server at 127\.0\.0\.1:1: connection refused; is it running\? \(the address is from JOBEXEC_SERVER; set it with --server or JOBEXEC_SERVER\)\n$/, { server: "127.0.0.1:1" });
  });

  test("credential files missing: names the file and the flag or variable that sets it", async () => {
    await fails(["status", id], /client certificate file \/nonexistent\/client\.pem does not exist; check JOBEXEC_CERT\n$/, { env: { JOBEXEC_CERT: "/nonexistent/client.pem" } });
    const empty = join(t.dir, "empty");
    await fails(["list"], new RegExp(`client certificate file ${empty}/client\\.pem does not exist; get a client certificate and key from the server's administrator .* \\(or, for a server of your own, run \`jobexec-server certs init\``), { env: { JOBEXEC_CONFIG_DIR: empty } });
    const blank = join(t.dir, "blank.pem");
    writeFileSync(blank, "");
    await fails(["list", "--ca", blank], /CA certificate file .*blank\.pem is empty; check --ca\n$/);
  });

  test("TLS, the server refuses us: client certificate from another CA, expired, not for client authentication, SHA-1", async () => {
    await fails(["list"], /^jobexec: TLS: 127\.0\.0\.1:\d+ refused our client certificate: .* was not issued by the CA in .* \(unknown CA\); our client certificate is \S+ \(the default\), the address 127\.0\.0\.1:\d+ \(from JOBEXEC_SERVER\): check --cert/, { user: "foreign" });
    await fails(["list"], /^jobexec: TLS: 127\.0\.0\.1:\d+ refused our client certificate: our client certificate .* expired on \d{4}-/, { user: "expired" });
    await fails(["list"], /^jobexec: TLS: 127\.0\.0\.1:\d+ refused our client certificate: .* is not for client authentication/, { user: "noclientauth" });
    await fails(["list"], /^jobexec: TLS: 127\.0\.0\.1:\d+ refused our client certificate: .* has a weak signature \(ecdsa-with-SHA1\)/, { user: "sha1" });
  });

  test("TLS, we refuse the server: certificate from a CA we do not trust", async () => {
    const other = await createCa("not the server's CA");
    const caFile = join(t.dir, "other-ca.pem");
    writeFileSync(caFile, other.cert);
    await fails(["list"], /^jobexec: TLS: the certificate of 127\.0\.0\.1:\d+ is not signed by our CA \(unknown CA\); our CA is \S+other-ca\.pem \(from JOBEXEC_CA\) and the address 127\.0\.0\.1:\d+ \(from JOBEXEC_SERVER\); the address and the CA came from different places \(JOBEXEC_SERVER, JOBEXEC_CA\): check --ca \/ JOBEXEC_CA and --server \/ JOBEXEC_SERVER, and get the server's CA certificate from its administrator\n$/, { env: { JOBEXEC_CA: caFile } });
  });

  test("TLS, we refuse the server: expired certificate, and a name it was not issued for", async () => {
    const past = new Date(Date.now() - 48 * 3_600_000);
    const expired = await issueCertificate(t.ca, { subject: { commonName: "old" }, usage: "server", sans: ["127.0.0.1"], notBefore: past, notAfter: new Date(past.getTime() + 3_600_000) });
    const elsewhere = await issueCertificate(t.ca, { subject: { commonName: "elsewhere" }, usage: "server", sans: ["jobs.example.com"] });
    const expiredServer = createServer({ ...expired, ALPNProtocols: ["h2"] });
    const elsewhereServer = createServer({ ...elsewhere, ALPNProtocols: ["h2"] });
    extraServers.push(expiredServer, elsewhereServer);
    await fails(["list"], /^jobexec: TLS: the certificate of 127\.0\.0\.1:\d+ has expired; the server needs a new certificate\n$/, { server: await listen(expiredServer) });
    await fails(["list"], /^jobexec: TLS: the certificate of 127\.0\.0\.1:\d+ is not valid for that name \(hostname mismatch: .*127\.0\.0\.1.*\); use the name or address the certificate was issued for in --server\n$/, { server: await listen(elsewhereServer) });
  });

  test("job not found, permission denied", async () => {
    await fails(["status", id], new RegExp(`^jobexec: job ${id} not found\n$`));
    await fails(["list", "--all"], /^jobexec: permission denied: .*\n$/);
  });

  test("an INTERNAL error on the connection's first call is the server's failure with its reference, not a certificate refusal", async (ctx) => {
    const parent = t.server.manager.cgroups.parent;
    if (parent === undefined) return ctx.skip("no cgroup v2 on this host");
    // The job cgroups' parent vanishing (as a second server used to remove it) makes every StartJob fail inside the
    // server: INTERNAL, with the reference of the server's log line.
    rmdirSync(parent);
    try {
      await fails(["start", "--", "true"], /^jobexec: jobexec-server at 127\.0\.0\.1:\d+ failed: internal error \(reference [0-9a-f]{8}\); the server log has the details\n$/);
    } finally {
      mkdirSync(parent);
    }
  });
});
