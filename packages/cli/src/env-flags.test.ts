import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { envFromFlag, readEnvFile } from "./env-flags.ts";
import { CliError } from "./errors.ts";

describe("env flags", () => {
  const dir = mkdtempSync(join(tmpdir(), "jobexec-env-file-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const usage = (message: RegExp) => (e: unknown) => e instanceof CliError && e.code === "usage" && message.test(e.message);

  test("--env NAME=VALUE as given; --env NAME from our environment, empty values included", () => {
    assert.deepEqual(envFromFlag("A=b=c", {}), ["A", "b=c"]);
    assert.deepEqual(envFromFlag("A=", {}), ["A", ""]);
    assert.deepEqual(envFromFlag("TOKEN", { TOKEN: "s3cret" }), ["TOKEN", "s3cret"]);
    assert.deepEqual(envFromFlag("EMPTY", { EMPTY: "" }), ["EMPTY", ""]);
    assert.throws(() => envFromFlag("TOKEN", {}), usage(/^--env TOKEN: TOKEN is not set in this environment; export it first/));
    assert.throws(() => envFromFlag("", {}), usage(/the name is empty/));
  });

  test("an env file: NAME=VALUE lines, values verbatim, comments and blank lines skipped, CRLF accepted", () => {
    const path = file("ok.env", "# deploy settings\n\nTOKEN=ab#c d 'e'\n  # indented comment\nURL=https://x/?a=b\r\nEMPTY=\nTOKEN=again");
    assert.deepEqual(readEnvFile(path), [["TOKEN", "ab#c d 'e'"], ["URL", "https://x/?a=b"], ["EMPTY", ""], ["TOKEN", "again"]]);
    assert.deepEqual(readEnvFile(file("empty.env", "")), []);
  });

  test("a bad line is named by its number, never quoted (it may be a secret)", () => {
    const cases: [string, RegExp][] = [
      ["A=1\nhunter2\n", /^--env-file .*bad\.env: line 2 is not NAME=VALUE \(it has no "="\); comments start with #$/],
      ["A=1\n\n=hunter2\n", /: line 3 is not NAME=VALUE: the name is empty$/],
      ["export A=hunter2\n", /: line 1 is not NAME=VALUE: the name contains white space$/],
      ["A=hunter2\0\n", /: line 1: the value contains NUL$/],
    ];
    for (const [text, message] of cases) {
      const path = file("bad.env", text);
      assert.throws(() => readEnvFile(path), (e: unknown) => usage(message)(e) && !(e as Error).message.includes("hunter2"), JSON.stringify(text));
    }
  });

  test("a file that cannot be read says why", () => {
    assert.throws(() => readEnvFile(join(dir, "missing.env")), usage(/^--env-file .*missing\.env: cannot read it: no such file$/));
    mkdirSync(join(dir, "sub"));
    assert.throws(() => readEnvFile(join(dir, "sub")), usage(/cannot read it: it is a directory$/));
  });
});
