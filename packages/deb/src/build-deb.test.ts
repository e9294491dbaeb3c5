// Builds the real .deb (from the built packages and the project's Node, as `pnpm nx run @jobexec/deb:deb` does) and
// checks what dpkg and lintian see in it. Installing it under systemd is the systemd tier's (packages/testing-vm).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildDeb } from "./build-deb.ts";
import { LIB_DIR, UNIT } from "./control.ts";

const have = (tool: string): boolean => {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};
const missing = ["dpkg-deb", "strip", "lintian"].filter((tool) => !have(tool));
const skip = missing.length > 0 && !process.env.CI ? `needs ${missing.join(", ")} (bash packages/deb/install-deps.sh)` : false;

function dpkgDeb(...args: string[]): string {
  return execFileSync("dpkg-deb", args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

describe("jobexec_<version>_amd64.deb", { skip, timeout: 900_000 }, () => {
  let dir: string;
  let deb: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-deb-test-"));
    deb = await buildDeb({ outDir: dir, version: "1.2.3" });
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("is named for its version and says what it is and needs", () => {
    assert.equal(deb, join(dir, "jobexec_1.2.3_amd64.deb"));
    const field = (name: string): string => dpkgDeb("-f", deb, name).trim();
    assert.equal(field("Package"), "jobexec");
    assert.equal(field("Version"), "1.2.3");
    assert.equal(field("Architecture"), "amd64");
    assert.equal(field("Depends"), "libc6 (>= 2.28), libgcc-s1, libstdc++6", "no nodejs: the package carries its own");
    assert.ok(Number(field("Installed-Size")) > 50_000, "Installed-Size in KiB");
  });

  test("holds the commands, the server with cgexec and its static helper, the CLI, slow, their Node and the unit", () => {
    const listing = dpkgDeb("-c", deb).split("\n");
    const entry = (path: string): string | undefined => listing.find((line) => line.endsWith(` .${path}`) || line.includes(` .${path} -> `));
    for (const path of ["/usr/bin/jobexec", "/usr/bin/jobexec-server", `${LIB_DIR}/bin/slow`, `${LIB_DIR}/node/bin/node`]) {
      assert.match(entry(path) ?? "", /^-rwxr-xr-x root\/root /, `${path} executable, root's`);
    }
    assert.match(entry(`/lib/systemd/system/${UNIT}`) ?? "", /^-rw-r--r-- root\/root /);
    assert.match(entry("/etc/jobexec/server.env") ?? "", /^-rw-r--r-- /);
    for (const path of [`${LIB_DIR}/server/dist/main.js`, `${LIB_DIR}/cli/bin/run.js`, `${LIB_DIR}/slow/dist/slow.js`]) assert.ok(entry(path), path);
    const enter = listing.find((line) => line.endsWith("/@jobexec/cgexec/dist/cgexec-enter"));
    assert.match(enter ?? "", /^-rwxr-xr-x /, "cgexec-enter, where the server's cgexec finds it");
    assert.ok(listing.some((line) => line.endsWith("/@jobexec/cgexec/dist/cgexec.js")));
    assert.ok(!listing.some((line) => / \.\/.*\/src\/.*\.test\.ts$/.test(line)), "no sources or tests");
    assert.ok(!listing.some((line) => line.startsWith("h")), "no hard links");
  });

  test("the unit starts /usr/bin/jobexec-server with its directories and Delegate=yes; server and CLI run on the bundled Node", () => {
    const root = join(dir, "x");
    dpkgDeb("-x", deb, root);
    const unit = execFileSync("cat", [join(root, "lib/systemd/system", UNIT)], { encoding: "utf8" });
    assert.match(unit, /^ExecStart=\/usr\/bin\/jobexec-server$/m);
    assert.match(unit, /^Delegate=yes$/m);
    assert.match(unit, /^StateDirectoryMode=0711$/m, "jobs' accounts pass through the data directory");
    assert.match(unit, /^EnvironmentFile=-\/etc\/jobexec\/server.env$/m);
    // The bundled Node runs the bundled server: the commands work without any Node on the host's PATH.
    const help = execFileSync(join(root, LIB_DIR, "node/bin/node"), ["--", join(root, LIB_DIR, "server/dist/main.js"), "--help"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    assert.match(help, /jobexec-server/);
    const version = execFileSync(join(root, LIB_DIR, "node/bin/node"), ["--", join(root, LIB_DIR, "cli/bin/run.js"), "--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    assert.match(version, /^jobexec\/\S+ linux-x64 node-v24\./, "the CLI, on the bundled Node 24");
  });

  test("maintainer scripts: certificates only when absent, the service the Debian way, data deleted only on purge", () => {
    const control = join(dir, "control");
    dpkgDeb("-e", deb, control);
    const read = (name: string): string => execFileSync("cat", [join(control, name)], { encoding: "utf8" });
    assert.equal(read("conffiles"), "/etc/jobexec/server.env\n");
    const postinst = read("postinst");
    assert.match(postinst, /if \[ ! -e \/etc\/jobexec\/ca.pem \] && \[ ! -e \/etc\/jobexec\/server.pem \]; then\n\t\tjobexec-server certs init --dir \/etc\/jobexec --user admin --san "\$\(uname -n\)"/);
    assert.match(postinst, /deb-systemd-helper enable 'jobexec-server.service'/);
    assert.match(postinst, /deb-systemd-invoke \$_dh_action 'jobexec-server.service'/);
    const prerm = read("prerm");
    assert.match(prerm, /\[ "\$1" = remove \].*\n\tdeb-systemd-invoke stop 'jobexec-server.service'/);
    const postrm = read("postrm");
    assert.match(postrm, /if \[ "\$1" = "purge" \]; then\n(?:.*\n)*?\trm -rf \/etc\/jobexec \/var\/lib\/jobexec/);
    assert.ok(!/rm -rf \/var\/lib\/jobexec/.test(postrm.split('if [ "$1" = "purge" ]')[0] ?? ""), "nothing deleted before the purge branch");
    for (const script of ["postinst", "prerm", "postrm"]) execFileSync("sh", ["-n", join(control, script)]);
  });

  test("lintian: no error or warning left (each overridden tag says why in debian/lintian-overrides)", () => {
    let out: string;
    try {
      out = execFileSync("lintian", ["--fail-on", "error,warning", deb], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      assert.fail(`lintian: ${(err as { stdout?: string }).stdout ?? err}`);
    }
    assert.doesNotMatch(out, /^[EW]: /m);
  });
});
