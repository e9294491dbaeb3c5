import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CgexecError, checkExecutable, findCommand } from "./cgexec.ts";

describe("findCommand (execvp lookup on real files)", () => {
  let root = "";
  const dir = (name: string): string => join(root, name);

  before(() => {
    root = mkdtempSync(join(tmpdir(), "cgexec-find-"));
    for (const name of ["a", "b", "c", "d"]) mkdirSync(dir(name));
    writeFileSync(dir("a/prog"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(dir("b/prog"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(dir("c/prog"), "#!/bin/sh\n", { mode: 0o644 });
    mkdirSync(dir("d/prog"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("takes PATH entries in order", () => {
    assert.equal(findCommand("prog", `${dir("a")}:${dir("b")}`), `${dir("a")}/prog`);
    assert.equal(findCommand("prog", `${dir("b")}:${dir("a")}`), `${dir("b")}/prog`);
  });

  it("skips a non-executable file or a directory when a later entry has the command", () => {
    assert.equal(findCommand("prog", `${dir("c")}:${dir("d")}:${dir("b")}`), `${dir("b")}/prog`);
  });

  it("reports 126 for what it skipped when no later entry has the command", () => {
    assert.throws(
      () => findCommand("prog", `${dir("c")}:/nonexistent`),
      (err: unknown) => err instanceof CgexecError && err.code === 126 && /c\/prog: permission denied/.test(err.message),
    );
    assert.throws(() => findCommand("prog", dir("d")), { code: 126, message: `${dir("d")}/prog: is a directory` });
  });

  it("reads an empty entry (leading, trailing, or a whole empty PATH) as the current directory", () => {
    const cwd = process.cwd();
    process.chdir(dir("a"));
    try {
      assert.equal(findCommand("prog", ":/nonexistent"), "./prog");
      assert.equal(findCommand("prog", "/nonexistent:"), "./prog");
      assert.equal(findCommand("prog", ""), "./prog");
      assert.throws(() => findCommand("prog", "/nonexistent"), { code: 127 });
    } finally {
      process.chdir(cwd);
    }
  });

  it("uses /bin:/usr/bin when PATH is unset", () => {
    assert.equal(findCommand("sh", undefined), "/bin/sh");
    assert.throws(() => findCommand("prog", undefined), { code: 127, message: "prog: command not found" });
  });

  it("uses a command containing a slash as is, without searching", () => {
    assert.equal(findCommand(`${dir("a")}/prog`, dir("b")), `${dir("a")}/prog`);
    assert.throws(() => findCommand("a/nope", dir("b")), { code: 127, message: "a/nope: no such file or directory" });
  });

  it("refuses an empty command as not found", () => {
    assert.throws(() => findCommand("", "/bin"), { code: 127 });
  });

  it("checkExecutable tells what execve would fail on", () => {
    assert.equal(checkExecutable(dir("a/prog")), undefined);
    assert.equal(checkExecutable(dir("c/prog"))?.code, 126);
    assert.equal(checkExecutable(dir("d/prog"))?.code, 126);
    assert.equal(checkExecutable("/dev/null")?.message, "/dev/null: not a regular file");
    assert.equal(checkExecutable(dir("a/prog/x"))?.code, 127);
    chmodSync(dir("c/prog"), 0o100);
    assert.equal(checkExecutable(dir("c/prog")), undefined, "execute permission alone is enough");
  });
});
