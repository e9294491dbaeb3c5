import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFile, stat, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { readCredentials } from "./cert-files.ts";
import { certsCommand } from "./certs-command.ts";
import { ServerError } from "../error.ts";
import { startTestServer } from "../test-support/test-harness.ts";

const day = 24 * 60 * 60 * 1000;

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

function cert(pem: string): X509Certificate {
  return new X509Certificate(pem);
}

describe("jobexec-server certs", () => {
  let root: string;
  let dir: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "jobexec-certs-"));
    dir = join(root, "config");
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("init writes a CA, a server and an admin client certificate with private keys 0600", async () => {
    const said = await certsCommand(["init", "--dir", dir, "--san", "jobs.example.com", "--san", "10.1.2.3", "--user", "ops"]);
    assert.match(said, /created CA .*ca\.pem/);
    for (const name of ["ca", "server", "client"]) {
      assert.equal(await mode(join(dir, `${name}.key`)), 0o600, `${name}.key`);
      assert.equal(await mode(join(dir, `${name}.pem`)), 0o644, `${name}.pem`);
    }
    assert.equal(await mode(dir), 0o700);
    const ca = cert(await readFile(join(dir, "ca.pem"), "utf8"));
    const server = cert(await readFile(join(dir, "server.pem"), "utf8"));
    const client = cert(await readFile(join(dir, "client.pem"), "utf8"));
    assert.ok(ca.ca);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.ok(client.checkIssued(ca) && client.verify(ca.publicKey));
    assert.equal(server.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    for (const name of ["DNS:localhost", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "DNS:jobs.example.com", "IP Address:10.1.2.3"]) {
      assert.ok(server.subjectAltName?.includes(name), `${name} in ${server.subjectAltName}`);
    }
    assert.deepEqual(server.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
    assert.deepEqual(client.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    assert.match(client.subject, /CN=ops/);
    assert.match(client.subject, /OU=admin/);
    const years = (c: X509Certificate) => (c.validToDate.getTime() - c.validFromDate.getTime()) / day / 365;
    assert.ok(Math.abs(years(ca) - 10) < 0.1);
    assert.ok(Math.abs(years(client) - 1) < 0.1);
  });

  test("init refuses to overwrite without --force, and replaces everything with it", async () => {
    const before = await readFile(join(dir, "ca.key"), "utf8");
    await assert.rejects(certsCommand(["init", "--dir", dir]), (e: unknown) => e instanceof ServerError && e.code === "exists" && /--force/.test(e.message));
    assert.equal(await readFile(join(dir, "ca.key"), "utf8"), before, "nothing was touched");
    await certsCommand(["init", "--dir", dir, "--force", "--user", "ops"]);
    assert.notEqual(await readFile(join(dir, "ca.key"), "utf8"), before);
    assert.equal(await mode(join(dir, "ca.key")), 0o600);
  });

  test("issue writes user and admin client certificates under clients/, refusing to overwrite", async () => {
    await certsCommand(["issue", "--dir", dir, "--user", "bob"]);
    await certsCommand(["issue", "--dir", dir, "--user", "carol", "--admin"]);
    assert.equal(await mode(join(dir, "clients", "bob.key")), 0o600);
    const bob = cert(await readFile(join(dir, "clients", "bob.pem"), "utf8"));
    assert.match(bob.subject, /CN=bob/);
    assert.doesNotMatch(bob.subject, /OU=/);
    assert.match(cert(await readFile(join(dir, "clients", "carol.pem"), "utf8")).subject, /OU=admin/);
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "bob"]), /already issued a certificate for bob: the user certificate for bob in \S+clients\/bob\.pem \(valid until \d{4}-\d\d-\d\d\); use --force/);
    const out = join(root, "elsewhere");
    await certsCommand(["issue", "--dir", dir, "--user", "dave", "--out", out]);
    assert.equal(await mode(join(out, "dave.key")), 0o600);
    // Written elsewhere, still issued by this CA: refused under any --out.
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "dave"]), (e: unknown) => e instanceof ServerError && e.code === "exists" && e.message.includes(join(out, "dave.pem")));
  });

  test("issue refuses the admin's own name from init; --force issues it and says what it replaces", async () => {
    const adminPem = await readFile(join(dir, "client.pem"), "utf8");
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "ops"]), {
      name: "ServerError",
      message: new RegExp(`^the CA in ${dir} already issued a certificate for ops: the admin certificate for ops in ${join(dir, "client.pem")} \\(valid until \\d{4}-\\d\\d-\\d\\d\\); use --force to issue another \\(the earlier one stays valid until it expires\\)$`),
    });
    await assert.rejects(stat(join(dir, "clients", "ops.pem")), { code: "ENOENT" }, "nothing was written");
    const said = await certsCommand(["issue", "--dir", dir, "--user", "ops", "--force"]);
    assert.match(said, new RegExp(`^issued user client certificate ${join(dir, "clients", "ops.pem")} for ops\nreplaced the admin certificate for ops in ${join(dir, "client.pem")} \\(valid until [\\d-]+\\); it stays valid until then \\(there is no revocation\\): delete it where it was handed out\nhand these three files to ops `));
    assert.doesNotMatch(cert(await readFile(join(dir, "clients", "ops.pem"), "utf8")).subject, /OU=admin/);
    assert.equal(await readFile(join(dir, "client.pem"), "utf8"), adminPem, "the admin's files are left alone");
    // The ledger now names the newest certificate for ops.
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "ops"]), /the user certificate for ops in \S+clients\/ops\.pem/);
  });

  test("a directory from before the ledger: client.pem and clients/ still count as issued", async () => {
    await rm(join(dir, "issued.json"));
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "carol"]), /already issued a certificate for carol: the admin certificate for carol in \S+clients\/carol\.pem/);
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "ops"]), /already issued a certificate for ops/);
  });

  test("bad usage is refused with a sentence", async () => {
    const usage = (e: unknown) => e instanceof ServerError && e.code === "usage";
    await assert.rejects(certsCommand(["issue", "--dir", dir]), usage);
    await assert.rejects(certsCommand(["issue", "--dir", dir, "--user", "../etc"]), usage);
    await assert.rejects(certsCommand(["frobnicate"]), usage);
    await assert.rejects(certsCommand(["init", "--bogus"]), usage);
    await assert.rejects(certsCommand(["issue", "--dir", join(root, "nowhere"), "--user", "x"]), /ca\.pem does not exist/);
    assert.match(await certsCommand(["--help"]), /certs init/);
  });

  test("the issued certificates work: admin lists everyone's jobs, a user only their own", async () => {
    const [ca, server, admin, bob] = await Promise.all([
      readCredentials(dir, "ca"),
      readCredentials(dir, "server"),
      readCredentials(dir, "client"),
      readCredentials(join(dir, "clients"), "bob"),
    ]);
    const t = await startTestServer({ pki: { ca, server, admin, alice: bob, bob } });
    try {
      await t.jobs(bob).startJob({ program: "true" });
      const all = await t.jobs(admin).listJobs({ allOwners: true });
      assert.deepEqual(all.jobs.map((j) => j.owner), ["bob"]);
      await assert.rejects(t.jobs(bob).listJobs({ allOwners: true }), (e: unknown) => ConnectError.from(e).code === Code.PermissionDenied);
    } finally {
      await t.close();
    }
  });
});
