// End-to-end tests of the built program (dist/slow.js; `pnpm run build` first), run as a
// subprocess, each knob checked by what it really does to processes, memory and CPU.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it, type TestContext } from "node:test";
import { bytesPattern, jobNode, slowPath } from "./index.ts";

/** A running slow, with its output so far and a way to wait for a line. */
interface Slow {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly out: { stdout: string; stderr: string };
  /** Resolves once `stream` has a line matching `pattern`, with the match. */
  line(stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves when slow itself has exited (its pipes may outlive it). */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Start slow; a test's end kills its whole process group (slow leads one, see `detached`). */
function startSlow(t: TestContext, args: readonly string[]): Slow {
  const child = spawn(process.execPath, [slowPath, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  const pid = child.pid as number;
  const out = { stdout: "", stderr: "" };
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]?.setEncoding("utf8").on("data", (text: string) => (out[stream] += text));
  }
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone with all its group.
    }
  });
  const line = async (stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpExecArray> => {
    const multiline = new RegExp(pattern.source, `${pattern.flags.replace("m", "")}m`);
    for (;;) {
      const match = multiline.exec(out[stream]);
      if (match !== null) return match;
      if (child.exitCode !== null || child.signalCode !== null) assert.fail(`slow ended without ${pattern} in ${stream}: ${out[stream]}`);
      await Promise.race([once(child[stream] as NodeJS.ReadableStream, "data"), exited]);
    }
  };
  return { child, pid, out, line, exited };
}

/** Run slow to its end (pipes closed). */
async function runSlow(t: TestContext, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const slow = startSlow(t, args);
  const [code] = (await once(slow.child, "close")) as [number | null];
  return { code, ...slow.out };
}

/** Fields of /proc/PID/stat after the command name. */
function stat(pid: number): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

function isGoneOrZombie(pid: number): boolean {
  try {
    return stat(pid)[0] === "Z";
  } catch {
    return true;
  }
}

// Per test, never per suite: a suite timeout would cancel the tests left when it expires.
const timeout = 60_000;

describe("slow", () => {
  it("prints N lines alternating stdout and stderr, then 'exited CODE', and exits CODE", { timeout }, async (t) => {
    const result = await runSlow(t, ["5", "4", "--interval", "0"]);
    assert.deepEqual(result, { code: 4, stdout: "line 1\nline 3\nline 5\nexited 4\n", stderr: "line 2\nline 4\n" });
  });

  it("writes the lines in order when both streams go to one pipe", { timeout }, async (t) => {
    const merged = spawn("sh", ["-c", '"$0" "$1" 4 --interval 0 2>&1', process.execPath, slowPath], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    merged.stdout.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    t.after(() => merged.kill("SIGKILL"));
    await once(merged, "close");
    assert.equal(text, "line 1\nline 2\nline 3\nline 4\nexited 0\n");
  });

  it("slow 1 3 exits 3 after one interval of the default second", { timeout }, async (t) => {
    const start = performance.now();
    const result = await runSlow(t, ["1", "3"]);
    assert.deepEqual(result, { code: 3, stdout: "line 1\nexited 3\n", stderr: "" });
    assert.ok(performance.now() - start >= 1000, "the default interval is a second");
  });

  it("spaces the lines by the interval", { timeout }, async (t) => {
    const start = performance.now();
    const slow = startSlow(t, ["3", "--interval", "500"]);
    await slow.line("stdout", /^line 1$/);
    const first = performance.now();
    await slow.line("stderr", /^line 2$/);
    const second = performance.now() - first;
    await slow.exited;
    const total = performance.now() - start;
    // Timers never fire early, so 3 intervals are a hard lower bound of the run. Between two lines
    // only the receiving side is timed, whose delays (a loaded machine) can shorten a gap: be lenient.
    assert.ok(total >= 1500 && total < 20_000, `slow 3 --interval 500 took ${total} ms`);
    assert.ok(second >= 250, `line 2 came ${second} ms after line 1: not spaced out`);
    assert.equal(slow.out.stdout, "line 1\nline 3\nexited 0\n");
  });

  it("--bytes K writes exactly K bytes of the pattern, then exits CODE", { timeout }, async (t) => {
    const size = 3 * 1024 * 1024 + 17;
    const slow = startSlow(t, ["--bytes", String(size), "5"]);
    const chunks: Buffer[] = [];
    slow.child.stdout?.removeAllListeners("data");
    slow.child.stdout?.setEncoding("latin1").on("data", (text: string) => chunks.push(Buffer.from(text, "latin1")));
    const [code] = (await once(slow.child, "close")) as [number];
    const output = Buffer.concat(chunks);
    assert.equal(code, 5);
    assert.equal(output.length, size);
    const expected = Buffer.alloc(size, bytesPattern, "latin1");
    assert.ok(output.equals(expected), "every byte follows the 64-byte pattern");
    assert.equal(bytesPattern.length, 64);
  });

  it("--bytes 0 writes nothing", { timeout }, async (t) => {
    assert.deepEqual(await runSlow(t, ["--bytes", "0"]), { code: 0, stdout: "", stderr: "" });
  });

  it("--first-line writes 'ready' before anything else", { timeout }, async (t) => {
    const result = await runSlow(t, ["1", "--interval", "0", "--first-line", "--fork", "1"]);
    assert.equal(result.stdout, "ready\nforked 1 of 1, 0 failed\nline 1\nexited 0\n");
  });

  it("--ignore-term survives SIGTERM, then dies of SIGKILL", { timeout }, async (t) => {
    const slow = startSlow(t, ["100", "--ignore-term", "--interval", "100"]);
    await slow.line("stdout", /^line 1$/);
    slow.child.kill("SIGTERM");
    await slow.line("stderr", /^ignored SIGTERM$/);
    await slow.line("stdout", /^line 5$/);
    assert.equal(slow.child.exitCode, null, "still running after SIGTERM");
    slow.child.kill("SIGKILL");
    assert.deepEqual(await slow.exited, [null, "SIGKILL"]);
  });

  it("without --ignore-term, SIGTERM ends it", { timeout }, async (t) => {
    const slow = startSlow(t, ["100", "--interval", "100"]);
    await slow.line("stdout", /^line 1$/);
    slow.child.kill("SIGTERM");
    assert.deepEqual(await slow.exited, [null, "SIGTERM"]);
  });

  it("--background leaves a child in its own session that outlives slow and holds its output", { timeout }, async (t) => {
    const slow = startSlow(t, ["0", "--background", "--interval", "0"]);
    const pid = Number((await slow.line("stdout", /^background (\d+)$/))[1]);
    t.after(() => process.kill(pid, "SIGKILL"));
    assert.deepEqual(await slow.exited, [0, null]);
    await sleep(100);
    const fields = stat(pid);
    assert.notEqual(fields[0], "Z", "the background child is alive after slow exited");
    assert.equal(fields[3], String(pid), "it leads its own session");
    assert.equal(readFileSync(`/proc/${pid}/cgroup`, "utf8"), readFileSync("/proc/self/cgroup", "utf8"), "same cgroup as slow's parent");
    assert.equal(slow.child.stdout?.readableEnded, false, "slow's stdout stays open while the child lives");
    process.kill(pid, "SIGKILL");
    await once(slow.child, "close");
    assert.equal(slow.out.stdout, `background ${pid}\nexited 0\n`);
  });

  it("--fork K starts K children that live while slow runs and are killed when it exits", { timeout }, async (t) => {
    const slow = startSlow(t, ["1", "--fork", "3", "--interval", "1500"]);
    await slow.line("stdout", /^forked 3 of 3, 0 failed$/);
    const children = readFileSync(`/proc/${slow.pid}/task/${slow.pid}/children`, "utf8").trim().split(" ").map(Number);
    assert.equal(children.length, 3);
    for (const child of children) assert.equal(readFileSync(`/proc/${child}/comm`, "utf8"), "sleep\n");
    assert.deepEqual(await slow.exited, [0, null]);
    for (let i = 0; i < 100 && !children.every(isGoneOrZombie); i++) await sleep(50);
    assert.ok(children.every(isGoneOrZombie), "no child left running after slow's normal exit");
  });

  it("--fork K counts the forks that fail (here under RLIMIT_NPROC, as under pids.max)", { timeout, skip: process.getuid?.() !== 0 && "needs root to run as nobody" }, async (t) => {
    // RLIMIT_NPROC counts the threads of the user (Node has 7): a limit of 8 leaves room for 1 child at most.
    const limited = spawn("prlimit", ["--nproc=8", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", jobNode, slowPath, "0", "--fork", "4", "--interval", "0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => limited.kill("SIGKILL"));
    let text = "";
    limited.stdout.setEncoding("utf8").on("data", (chunk: string) => (text += chunk));
    assert.deepEqual(await once(limited, "close"), [0, null]);
    const [, started, failed] = /^forked (\d+) of 4, (\d+) failed$/m.exec(text) ?? assert.fail(text);
    assert.equal(Number(started) + Number(failed), 4);
    assert.ok(Number(failed) >= 3, text);
  });

  it("--alloc MIB makes the memory resident", { timeout }, async (t) => {
    const rss = async (args: string[]): Promise<number> => {
      const slow = startSlow(t, ["1", "--interval", "60000", ...args]);
      await slow.line("stdout", /^line 1$/);
      const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${slow.pid}/status`, "utf8"))?.[1]);
      slow.child.kill("SIGKILL");
      return kib / 1024;
    };
    const base = await rss([]);
    const grown = await rss(["--alloc", "256"]);
    assert.ok(grown - base >= 250, `RSS ${base.toFixed(0)} MiB without, ${grown.toFixed(0)} MiB with --alloc 256`);
  });

  it("--spin SECONDS burns CPU time", { timeout }, async (t) => {
    const cpu = async (args: string[]): Promise<number> => {
      const slow = startSlow(t, ["1", "--interval", "60000", ...args]);
      await slow.line("stdout", /^line 1$/);
      const [utime, stime] = stat(slow.pid).slice(11, 13).map(Number);
      slow.child.kill("SIGKILL");
      return ((utime ?? 0) + (stime ?? 0)) / 100;
    };
    const base = await cpu([]);
    const spun = await cpu(["--spin", "2"]);
    // Under load (10 runnable tasks on 2 cores seen here) 2 s of wall clock buy ~0.4 s of CPU.
    assert.ok(spun - base >= 0.2, `CPU ${base} s without, ${spun} s with --spin 2`);
  });

  it("bad arguments print the usage on stderr and exit 2; --help prints it on stdout", { timeout }, async (t) => {
    for (const args of [[], ["many"], ["1", "300"], ["1", "--frobnicate"], ["1", "--interval"]]) {
      const result = await runSlow(t, args);
      assert.equal(result.code, 2, args.join(" "));
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /^slow: .+\n\nUsage: slow N \[CODE\] \[options\]\n/);
    }
    const help = await runSlow(t, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: slow N/);
    assert.match(help.stdout, /--ignore-term/);
  });
});
