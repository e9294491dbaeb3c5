import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { planExec } from "./cgexec.ts";

describe("planExec (what execve gets, so that it cannot fail)", () => {
  let root = "";
  const file = (name: string, text: string, mode = 0o755): string => {
    const path = join(root, name);
    writeFileSync(path, text, { mode });
    return path;
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), "cgexec-plan-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("executes an ELF file directly", () => {
    assert.deepEqual(planExec("/bin/sh", ["sh", "-c", "x"]), { file: "/bin/sh", args: ["sh", "-c", "x"] });
  });

  it("executes a script directly once its interpreter is checked", () => {
    const script = file("ok", "#! /bin/sh -e\necho\n");
    assert.deepEqual(planExec(script, ["ok", "a"]), { file: script, args: ["ok", "a"] });
  });

  it("reports a missing interpreter as 127 and a non-executable one as 126", () => {
    const missing = file("missing", "#!/nonexistent/interp\n");
    assert.throws(() => planExec(missing, ["missing"]), {
      code: 127,
      message: `${missing}: bad interpreter /nonexistent/interp: no such file or directory`,
    });
    const interp = file("interp", "", 0o644);
    assert.throws(() => planExec(file("bad", `#!${interp}\n`), ["bad"]), { code: 126 });
  });

  it("runs a file that is neither ELF nor a script with /bin/sh, as execvp does on ENOEXEC", () => {
    const plain = file("plain", "echo hi\n");
    assert.deepEqual(planExec(plain, ["plain", "a", ""]), { file: "/bin/sh", args: ["/bin/sh", plain, "a", ""] });
    const empty = file("empty", "");
    assert.deepEqual(planExec(empty, ["empty"]), { file: "/bin/sh", args: ["/bin/sh", empty] });
  });
});
