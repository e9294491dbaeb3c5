import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { configDir, readCredentials } from "./credentials.ts";
import { CliError } from "./errors.ts";

const dir = mkdtempSync(join(tmpdir(), "jobexec-cli-creds-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("the config directory: JOBEXEC_CONFIG_DIR, else XDG_CONFIG_HOME/jobexec, else ~/.config/jobexec; %APPDATA%\\jobexec on Windows", () => {
  assert.equal(configDir({ JOBEXEC_CONFIG_DIR: "/a", XDG_CONFIG_HOME: "/b", HOME: "/c" }), "/a");
  assert.equal(configDir({ XDG_CONFIG_HOME: "/b" }), "/b/jobexec");
  assert.match(configDir({}), /\/\.config\/jobexec$/);
  assert.equal(configDir({ XDG_CONFIG_HOME: "/b" }, "darwin"), "/b/jobexec");
  assert.equal(configDir({ APPDATA: "C:\\Users\\ann\\AppData\\Roaming", XDG_CONFIG_HOME: "/b" }, "win32"), "C:\\Users\\ann\\AppData\\Roaming\\jobexec");
  assert.equal(configDir({ JOBEXEC_CONFIG_DIR: "D:\\jobexec", APPDATA: "C:\\x" }, "win32"), "D:\\jobexec");
});

test("defaults come from the config directory; given paths win", () => {
  const conf = join(dir, "conf");
  mkdirSync(conf);
  for (const name of ["client.pem", "client.key", "ca.pem"]) writeFileSync(join(conf, name), name);
  writeFileSync(join(dir, "other.pem"), "other");
  const creds = readCredentials({ cert: join(dir, "other.pem") }, { JOBEXEC_CONFIG_DIR: conf });
  assert.equal(creds.cert.toString(), "other");
  assert.equal(creds.key.toString(), "client.key");
  assert.equal(creds.ca.toString(), "ca.pem");
});

test("a missing default file names the file, the flag, the variable and how to create it", () => {
  const empty = join(dir, "empty");
  assert.throws(() => readCredentials({}, { JOBEXEC_CONFIG_DIR: empty }), (e: unknown) =>
    e instanceof CliError && e.code === "credentials" &&
    e.message === `client certificate file ${empty}/client.pem does not exist; get a client certificate and key from the server's administrator (\`jobexec-server certs issue\`) and set --cert and --key (or JOBEXEC_CERT and JOBEXEC_KEY) (or, for a server of your own, run \`jobexec-server certs init\` to create ${empty})`);
});

test("a given file that is missing or a directory names the flag", () => {
  const conf = join(dir, "conf2");
  mkdirSync(conf);
  for (const name of ["client.pem", "client.key", "ca.pem"]) writeFileSync(join(conf, name), name);
  assert.throws(() => readCredentials({ key: join(dir, "nope.key") }, { JOBEXEC_CONFIG_DIR: conf }),
    /^CliError: client key file .*nope\.key does not exist; check --key or JOBEXEC_KEY$/);
  assert.throws(() => readCredentials({ ca: dir }, { JOBEXEC_CONFIG_DIR: conf }),
    /^CliError: CA certificate file .* is a directory; check --ca or JOBEXEC_CA$/);
});
