// The page-side functions given to page.evaluate() run in the browser.
/// <reference lib="dom" />
// End to end: a real server, a real `jobexec ui` process and Debian's Chromium driven by playwright-core. The page's
// behaviour (live list, following output, colours, search, download) and every security rule of the console, from
// the browser and from plain HTTP requests.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { collectCli, eventually, runCli, spawnCli, startedId, startCliServer, type CliServer, type User } from "../testing/cli-fixture.ts";

const chromiumPath = "/usr/bin/chromium";
const skip = existsSync(chromiumPath) ? false : `no ${chromiumPath} (packages/web/install-deps.sh installs it): the browser tests of jobexec ui are skipped`;
// Without the background-networking flags this machine's closed network refuses Chromium's own connections.
const chromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const screenshots = process.env.JOBEXEC_WEB_SCREENSHOTS;

/** A running `jobexec ui --no-open`: its process and the address with the one-time code it printed. */
interface Console {
  child: ChildProcess;
  openUrl: string;
  origin: string;
  port: number;
}

async function startUi(t: CliServer, args: string[] = [], user: User = "alice"): Promise<Console> {
  const child = spawnCli(t, ["ui", "--no-open", ...args], { timeoutMs: 600_000, user });
  let out = "";
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const openUrl = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      if (out.includes("\n")) resolve(out.trim());
    });
    child.once("close", (code) => reject(new Error(`jobexec ui ended (${code}): ${err}`)));
  });
  const url = new URL(openUrl);
  return { child, openUrl, origin: url.origin, port: Number(url.port) };
}

async function stopUi(ui: Console): Promise<void> {
  if (ui.child.exitCode !== null) return;
  ui.child.kill("SIGINT");
  await collectCli(ui.child);
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly the headers given (Host included; undefined leaves one out), as curl would send it. */
function raw(port: number, method: string, path: string, headers: OutgoingHttpHeaders, body?: string): Promise<RawResponse> {
  const sent = Object.fromEntries(Object.entries({ host: `127.0.0.1:${port}`, ...headers }).filter(([, value]) => value !== undefined));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, method, path, headers: sent, setHost: false }, (res) => {
      let text = "";
      res.on("data", (b: Buffer) => (text += b.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const connectJson = (token: string): OutgoingHttpHeaders => ({ "content-type": "application/json", "connect-protocol-version": "1", authorization: `Bearer ${token}` });

function noCors(response: RawResponse): void {
  assert.deepEqual(Object.keys(response.headers).filter((name) => name.startsWith("access-control-")), [], "no CORS header");
}

async function start(t: CliServer, ...command: string[]): Promise<string> {
  return startedId(await runCli(t, ["start", "--", ...command]));
}

/** Every line of the output view, in order, gathered by scrolling the virtualized list from top to bottom. */
async function allLines(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const list = document.querySelector(".output .vscroll") as HTMLElement;
    const seen = new Map<number, string>();
    for (let top = 0; ; top += list.clientHeight / 2) {
      list.scrollTop = top;
      await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
      for (const row of list.querySelectorAll<HTMLElement>(".vrow")) {
        seen.set(Number(/translateY\((\d+)/.exec(row.style.transform)?.[1]), row.querySelector(".text")?.textContent ?? "");
      }
      if (top >= list.scrollHeight) break;
    }
    return [...seen.entries()].sort((a, b) => a[0] - b[0]).map(([, text]) => text);
  });
}

/** The page's JavaScript heap after a full garbage collection, in MiB. */
async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  await cdp.detach();
  return usedSize / 1048576;
}

describe("jobexec ui in Chromium", { skip }, () => {
  let t: CliServer;
  let ui: Console;
  let browser: Browser;
  let page: Page;
  let token: string;
  let uiStartMs = 0;

  before(async () => {
    t = await startCliServer();
    const spawned = Date.now();
    ui = await startUi(t);
    uiStartMs = Date.now() - spawned;
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    if (screenshots !== undefined) await mkdir(screenshots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    if (ui !== undefined) await stopUi(ui);
    await t?.close();
  });

  test("the page opens on the one-time code, swaps it for a session and removes it from the address bar", async () => {
    const opened = Date.now();
    await page.goto(ui.openUrl);
    await page.waitForSelector(".live[data-status=live]");
    process.stdout.write(`# ui: jobexec ui printed its address ${uiStartMs} ms after it was started; the page listed the jobs ${Date.now() - opened} ms after it was opened\n`);
    assert.equal(new URL(page.url()).hash, "");
    token = await page.evaluate(() => (JSON.parse(sessionStorage.getItem("jobexec-session") ?? "{}") as { token: string }).token);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    // The code is spent: sent again, it gets 401 and nothing else.
    const code = new URL(ui.openUrl).hash.slice("#code=".length);
    const again = await raw(ui.port, "POST", "/session", { "content-type": "application/json" }, JSON.stringify({ code }));
    assert.equal(again.status, 401);
    assert.equal(again.body, "");
  });

  test("the list shows jobs as they start and end (WatchJobs)", async () => {
    const id = await start(t, "sh", "-c", "sleep 1; echo done");
    const row = page.locator(`a.job-row[href="/jobs/${id}"]`);
    await row.locator(".state", { hasText: "running" }).waitFor();
    await row.locator(".state", { hasText: "exited" }).waitFor();
    assert.match(await row.locator(".result").innerText(), /exit code 0/);
    assert.equal(await row.locator(".owner").innerText(), "alice");
    // Not an admin: her own jobs (the console fell back from everyone's), no owner filter.
    assert.equal(await page.getByRole("searchbox").count(), 0);
  });

  test("hostile output and command lines are shown as text: no markup, no script, no javascript: link", async () => {
    const script = [
      "printf '<script>window.pwned=1</script>\\n'",
      "printf '<img src=x onerror=\"window.pwned=2\">\\n'",
      "printf '\\033]8;;javascript:window.pwned=3\\033\\\\click me\\033]8;;\\033\\\\\\n'",
      "printf '\\033]8;;https://example.com/docs\\033\\\\docs\\033]8;;\\033\\\\\\n'",
      "printf '\\033[1;31mred bold\\033[0m plain \\033[38;2;0;128;255mtrue\\033[0m\\n'",
      "printf 'progress 10%%\\rprogress 100%%\\n'",
    ].join("; ");
    const id = await start(t, "sh", "-c", script, "<img src=x onerror=window.pwned=4>", "\u001b[2Jcleared\u202eevil");
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".output-status", { hasText: "End of output" }).waitFor();
    await page.locator(".line .text", { hasText: "progress 100%" }).waitFor();
    const texts = await page.locator(".line .text").allInnerTexts();
    assert.deepEqual(texts, ["<script>window.pwned=1</script>", '<img src=x onerror="window.pwned=2">', "click me", "docs", "red bold plain true", "progress 100%"]);
    const facts = await page.locator(".facts").innerText();
    assert.match(facts, /<img src=x onerror=window.pwned=4>/);
    // Control characters in the command line are shown as escapes, as the CLI shows them.
    assert.ok(facts.includes("'\\e[2Jcleared\\u202eevil'"), facts);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.equal(await page.locator("main img, main script").count(), 0);
    // Only the https link is a link.
    const links = await page.locator(".line .text a").evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute("href"), a.getAttribute("rel")]));
    assert.deepEqual(links, [["docs", "https://example.com/docs", "noopener noreferrer"]]);
    // Colours are colours, from the theme's palette and as given.
    const red = page.locator(".line .text span", { hasText: "red bold" });
    assert.equal(await red.evaluate((e) => getComputedStyle(e).fontWeight), "700");
    assert.equal(await red.evaluate((e) => getComputedStyle(e).color), await page.evaluate(() => {
      const probe = document.createElement("span");
      probe.style.color = "var(--c1)";
      document.body.append(probe);
      const color = getComputedStyle(probe).color;
      probe.remove();
      return color;
    }));
    assert.equal(await page.locator(".line .text span", { hasText: "true" }).evaluate((e) => getComputedStyle(e).color), "rgb(0, 128, 255)");
    if (screenshots !== undefined) {
      await page.screenshot({ path: `${screenshots}/job-output.png` });
      await page.emulateMedia({ colorScheme: "dark" });
      await page.screenshot({ path: `${screenshots}/job-output-dark.png` });
      await page.emulateMedia({ colorScheme: "light" });
    }
  });

  test("following a live job shows every line in order; scrolling up pauses and offers the new lines; search finds", async () => {
    const id = await start(t, "sh", "-c", "i=1; while [ $i -le 300 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.01; done; sleep 2; i=301; while [ $i -le 330 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.05; done");
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".line .text", { hasText: /^line 300$/ }).waitFor();
    // Following: the newest line is in view.
    assert.equal(await page.locator(".output-status").innerText().then((s) => s.startsWith("Following")), true);
    // Scroll up: the follow pauses, the view stays where it is while lines arrive.
    const list = page.locator(".output .vscroll");
    await list.hover();
    await page.mouse.wheel(0, -1500);
    await page.locator("button.jump").waitFor();
    const top = await list.evaluate((e) => e.scrollTop);
    // Select a line's text: it stays selected while lines arrive.
    const selected = await page.evaluate(() => {
      const text = document.querySelectorAll(".output .vrow .text")[3] as HTMLElement;
      const range = document.createRange();
      range.selectNodeContents(text);
      getSelection()?.removeAllRanges();
      getSelection()?.addRange(range);
      return getSelection()?.toString() ?? "";
    });
    assert.match(selected, /^line \d+$/);
    await page.locator("button.jump", { hasText: /\(\d+ new\)/ }).waitFor();
    assert.equal(await list.evaluate((e) => e.scrollTop), top);
    assert.equal(await page.evaluate(() => getSelection()?.toString()), selected);
    await page.locator(".output-status", { hasText: "End of output" }).waitFor();
    await page.locator("button.jump").click();
    await page.locator("button.jump").waitFor({ state: "detached" });
    await page.locator(".line .text", { hasText: /^line 330$/ }).waitFor();
    assert.deepEqual(await allLines(page), Array.from({ length: 330 }, (_, i) => `line ${i + 1}`));
    // The job ran about 8 s: its usage timeline (sampled every 5 s, and at its end) is drawn.
    await page.locator("figure.timeline figcaption", { hasText: /CPU, up to .* · [2-9] samples/ }).waitFor();
    assert.equal(await page.locator("figure.timeline svg path").count(), 2);
    // Search: next and previous.
    await page.getByLabel("Search the output").fill("line 25");
    await page.locator(".matches", { hasText: "– of 11" }).waitFor();
    await page.getByLabel("Search the output").press("Enter");
    await page.locator(".line.current .text", { hasText: /^line 25$/ }).waitFor();
    await page.getByLabel("Search the output").press("Enter");
    await page.locator(".line.current .text", { hasText: /^line 250$/ }).waitFor();
    await page.getByLabel("Search the output").press("Shift+Enter");
    await page.locator(".line.current .text", { hasText: /^line 25$/ }).waitFor();
    assert.equal(await page.locator(".matches").innerText(), "1 of 11");
    assert.equal(await page.locator(".line.current mark").innerText(), "line 25");
  });

  test("stdout, stderr or both, each line marked with its stream", async () => {
    const id = await start(t, "sh", "-c", "echo out-1; echo err-1 >&2; sleep 0.2; echo out-2; echo err-2 >&2");
    assert.equal((await runCli(t, ["wait", id])).code, 0);
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".output-status", { hasText: "End of output" }).waitFor();
    const shown = async (): Promise<string[]> => page.locator(".output .line").evaluateAll((rows) => rows.map((r) => `${r.classList.contains("stderr") ? "err" : "out"} ${r.querySelector(".text")?.textContent}`).sort());
    assert.deepEqual(await shown(), ["err err-1", "err err-2", "out out-1", "out out-2"]);
    const only = async (stream: "stdout" | "stderr", expected: string[]): Promise<void> => {
      await page.getByRole("button", { name: stream, exact: true }).first().click();
      await page.waitForURL(new RegExp(`\\?stream=${stream}$`));
      assert.ok(await eventually(async () => JSON.stringify(await shown()) === JSON.stringify(expected)), JSON.stringify(await shown()));
      await page.locator(".output-status", { hasText: "End of output · 2 lines in view" }).waitFor();
    };
    await only("stderr", ["err err-1", "err err-2"]);
    await only("stdout", ["out out-1", "out out-2"]);
  });

  test("a job is stopped, then deleted, from its page after a confirmation each", async () => {
    const id = await start(t, "sleep", "300");
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await page.getByRole("button", { name: "Stop the job" }).click();
    await page.locator(".job-header .state", { hasText: "stopped" }).waitFor();
    assert.match(await page.locator(".facts").innerText(), /stopped by alice/);
    // Then deleted: back to the list, where it is gone (WatchJobs' deletion).
    await page.getByRole("button", { name: "Delete", exact: true }).click();
    await page.getByRole("button", { name: "Delete the job" }).click();
    await page.waitForURL(`${ui.origin}/`);
    await page.locator(".live[data-status=live]").waitFor();
    await page.locator(`a.job-row[href="/jobs/${id}"]`).waitFor({ state: "detached" });
    assert.equal((await runCli(t, ["status", id])).code, 1);
  });

  test("the raw download is byte for byte the job's output, through a link that works once", async () => {
    const id = await start(t, "sh", "-c", "head -c 3000000 /dev/urandom");
    assert.equal((await runCli(t, ["wait", id])).code, 0);
    const expected = createHash("sha256").update((await runCli(t, ["logs", "--stream", "stdout", id])).stdout).digest("hex");
    await page.goto(`${ui.origin}/jobs/${id}`);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "stdout" }).last().click()]);
    const saved = await download.path();
    assert.equal(createHash("sha256").update(await readFile(saved)).digest("hex"), expected);
    const again = await raw(ui.port, "GET", new URL(download.url()).pathname, {});
    assert.equal(again.status, 404);
  });

  test("every call needs the token, our Host and our Origin; no CORS, no GET, no framing", async () => {
    const list = "/api/jobexec.v1.JobService/ListJobs";
    const ok = await raw(ui.port, "POST", list, connectJson(token), "{}");
    assert.equal(ok.status, 200, ok.body);
    noCors(ok);
    const none = await raw(ui.port, "POST", list, { ...connectJson(token), authorization: undefined }, "{}");
    assert.equal(none.status, 401);
    assert.equal(none.body, "");
    assert.equal((await raw(ui.port, "POST", list, connectJson("x".repeat(43)), "{}")).status, 401);
    assert.equal((await raw(ui.port, "POST", list, { ...connectJson(token), host: `rebind.example:${ui.port}` }, "{}")).status, 421);
    assert.equal((await raw(ui.port, "GET", "/", { host: `attacker.example:${ui.port}` })).status, 421);
    const foreign = await raw(ui.port, "POST", list, { ...connectJson(token), origin: "http://attacker.example" }, "{}");
    assert.equal(foreign.status, 403);
    noCors(foreign);
    const preflight = await raw(ui.port, "OPTIONS", list, { origin: "http://attacker.example", "access-control-request-method": "POST" });
    assert.notEqual(preflight.status, 200);
    noCors(preflight);
    assert.equal((await raw(ui.port, "GET", `${list}?message={}&encoding=json`, connectJson(token))).status, 405);
    assert.equal((await raw(ui.port, "POST", list, { ...connectJson(token), "connect-protocol-version": undefined }, "{}")).status, 400);
    assert.equal((await raw(ui.port, "POST", "/api/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", connectJson(token), "{}")).status, 404);
    const home = await raw(ui.port, "GET", "/", {});
    assert.equal(home.status, 200);
    assert.match(String(home.headers["content-security-policy"]), /default-src 'self'.*frame-ancestors 'none'/);
    assert.equal(home.headers["referrer-policy"], "no-referrer");
    assert.equal(home.headers["x-frame-options"], "DENY");
    assert.equal(home.headers["set-cookie"], undefined);
  });

  test("a page of another origin can neither read the console nor act through it", async () => {
    const other = await browser.newPage();
    // Another origin on this host: the same address by another name.
    await other.goto(`http://localhost:${ui.port}/`);
    const results = await other.evaluate(async ({ origin, token }) => {
      const tryFetch = async (path: string, init: RequestInit): Promise<string> => {
        try {
          return String((await fetch(`${origin}${path}`, init)).status);
        } catch (error) {
          return (error as Error).name;
        }
      };
      return [
        await tryFetch("/api/jobexec.v1.JobService/ListJobs", { method: "POST", headers: { "content-type": "application/json", "connect-protocol-version": "1", authorization: `Bearer ${token}` }, body: "{}" }),
        await tryFetch("/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: "x" }) }),
      ];
    }, { origin: ui.origin, token });
    assert.deepEqual(results, ["TypeError", "TypeError"]);
    await other.close();
  });

  test("--read-only refuses StartJob (and stop and delete) and hides the form", async () => {
    const readOnly = await startUi(t, ["--read-only"]);
    try {
      const ro = await browser.newPage();
      await ro.goto(readOnly.openUrl);
      await ro.locator(".badge", { hasText: "read-only" }).waitFor();
      assert.equal(await ro.getByRole("link", { name: "Start a job" }).count(), 0);
      const running = await start(t, "sleep", "30");
      await ro.goto(`${readOnly.origin}/jobs/${running}`);
      await ro.locator(".job-header .state", { hasText: "running" }).waitFor();
      assert.equal(await ro.locator(".job-header .actions").count(), 0);
      const roToken = await ro.evaluate(() => (JSON.parse(sessionStorage.getItem("jobexec-session") ?? "{}") as { token: string }).token);
      const refused = await raw(readOnly.port, "POST", "/api/jobexec.v1.JobService/StartJob", connectJson(roToken), JSON.stringify({ program: "true" }));
      assert.equal(refused.status, 403);
      assert.match(refused.body, /"code":"permission_denied".*read-only/);
      const listed = await raw(readOnly.port, "POST", "/api/jobexec.v1.JobService/ListJobs", connectJson(roToken), "{}");
      assert.equal(listed.status, 200);
      // The other console's token is not this one's.
      assert.equal((await raw(readOnly.port, "POST", "/api/jobexec.v1.JobService/ListJobs", connectJson(token), "{}")).status, 401);
      await ro.close();
    } finally {
      await stopUi(readOnly);
    }
  });

  test("an admin's console lists everyone's jobs and filters by owner in the address", async () => {
    const bobs = startedId(await runCli(t, ["start", "--", "true"], { user: "bob" }));
    const admin = await startUi(t, [], "admin");
    try {
      const view = await browser.newPage();
      await view.goto(admin.openUrl);
      await view.locator(`a.job-row[href="/jobs/${bobs}"] .owner`, { hasText: "bob" }).waitFor();
      await view.locator(".job-row .owner", { hasText: "alice" }).first().waitFor();
      await view.getByRole("searchbox").fill("bob");
      await view.getByRole("searchbox").press("Enter");
      await view.waitForURL(/\?owner=bob$/);
      assert.deepEqual([...new Set(await view.locator(".job-row .owner").allInnerTexts())], ["bob"]);
      await view.reload();
      await view.locator(`a.job-row[href="/jobs/${bobs}"]`).waitFor();
      assert.deepEqual([...new Set(await view.locator(".job-row .owner").allInnerTexts())], ["bob"]);
      await view.close();
    } finally {
      await stopUi(admin);
    }
  });

  test("the start form starts a job and shows the server's refusal as it phrased it", async () => {
    await page.goto(`${ui.origin}/start`);
    await page.locator("input[name=program]").fill("/no/such/program");
    await page.getByRole("button", { name: "Start", exact: true }).click();
    const error = await page.locator(".start-page .error").innerText();
    assert.match(error, /no\/such\/program/);
    await page.locator("input[name=program]").fill("sh");
    await page.locator("textarea[name=args]").fill("-c\necho \"$GREETING from the form\"");
    await page.locator("textarea[name=env]").fill("GREETING=hello");
    await page.getByRole("button", { name: "Start", exact: true }).click();
    await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
    await page.locator(".line .text", { hasText: "hello from the form" }).waitFor();
    if (screenshots !== undefined) {
      await page.goto(`${ui.origin}/`);
      await page.locator(".job-row").first().waitFor();
      await page.screenshot({ path: `${screenshots}/jobs.png` });
    }
  });

  test("a line link survives a reload and opens there; 100 000 lines render a few rows at a time", async () => {
    const id = await start(t, "seq", "1", "100000");
    assert.equal((await runCli(t, ["wait", id])).code, 0);
    // Line "50000" starts at byte 238 894 of stdout (lines 1-9: 18 bytes, 10-99: 270, 100-999: 3600, 1000-9999: 45000, 10000-49999: 240000).
    const offset = 18 + 270 + 3600 + 45000 + 240000;
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".line .text", { hasText: /^100000$/ }).waitFor();
    await page.goto(`${ui.origin}/jobs/${id}?stream=stdout#stdout:${offset}`);
    await page.reload();
    await page.locator(".line.selected .text", { hasText: /^50000$/ }).waitFor();
    await page.reload();
    await page.locator(".line.selected .text", { hasText: /^50000$/ }).waitFor();
    assert.equal(new URL(page.url()).hash, `#stdout:${offset}`);
    // Clicking another line's link puts it in the address without reloading the output.
    await page.locator(".line", { hasText: /^out50010$/ }).locator(".gutter").click();
    assert.equal(new URL(page.url()).hash, `#stdout:${offset + 60}`);
    await page.locator(".line.selected .text", { hasText: /^50010$/ }).waitFor();
    // Load everything from the start: 100 000 lines in the page, a few dozen rows in the document.
    await page.goto(`${ui.origin}/jobs/${id}?stream=stdout#stdout:0`);
    await page.reload();
    // A window of 50 000 lines at a time: "Load later" until the end.
    const status = page.locator(".output-status");
    for (let i = 0; i < 3; i++) {
      await status.filter({ hasText: /End of output|More output follows/ }).waitFor();
      const before = await status.innerText();
      if (before.startsWith("End of output")) break;
      await page.getByRole("button", { name: "Load later" }).click();
      assert.ok(await eventually(async () => (await status.innerText()) !== before), before);
    }
    await page.locator(".output-status", { hasText: "End of output · 100000 lines in view" }).waitFor();
    const list = page.locator(".output .vscroll");
    await list.evaluate((e) => (e.scrollTop = e.scrollHeight));
    await page.locator(".line .text", { hasText: /^100000$/ }).waitFor();
    const rows = await page.locator(".output .vrow").count();
    assert.ok(rows < 200, `${rows} rows in the document`);
    process.stdout.write(`# ui: 100 000 lines in the page: ${rows} rows in the document, page heap ${(await heapMiB(page)).toFixed(1)} MiB\n`);
  });

  test("wrap and time toggles are remembered across reloads", async () => {
    await page.getByLabel("Wrap").check();
    await page.getByLabel("Times").check();
    await page.reload();
    await page.locator(".output-body[data-wrap=true][data-times=true]").waitFor();
    await page.getByLabel("Wrap").uncheck();
    await page.getByLabel("Times").uncheck();
    await page.reload();
    await page.locator(".output-body[data-wrap=false][data-times=false]").waitFor();
  });

  test("the list and a job are reachable with the keyboard", async () => {
    await page.goto(`${ui.origin}/`);
    await page.locator(".job-row").first().waitFor();
    const first = await page.locator(".job-row").first().getAttribute("href");
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(() => document.activeElement?.classList.contains("job-row"))) break;
    }
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("href")), first);
    await page.keyboard.press("Enter");
    await page.waitForURL(`${ui.origin}${first}`);
    await page.locator(".job-header").waitFor();
  });

  test("live lines reach the page about as fast as they reach jobexec logs -f (figure)", async () => {
    const id = await start(t, "sh", "-c", "sleep 1; i=0; while [ $i -lt 40 ]; do date +%s%3N; i=$((i+1)); sleep 0.1; done");
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".output .vscroll").waitFor();
    await page.evaluate(() => {
      const seen = new Set<string>();
      const latencies: number[] = [];
      (window as unknown as { latencies: number[] }).latencies = latencies;
      new MutationObserver(() => {
        for (const text of document.querySelectorAll<HTMLElement>(".output .line .text")) {
          const value = text.textContent ?? "";
          if (/^\d{13}$/.test(value) && !seen.has(value)) {
            seen.add(value);
            latencies.push(Date.now() - Number(value));
          }
        }
      }).observe(document.querySelector(".output") as HTMLElement, { childList: true, subtree: true, characterData: true });
    });
    const logs = spawnCli(t, ["logs", "-f", id]);
    const cli: number[] = [];
    let pending = "";
    logs.stdout?.on("data", (b: Buffer) => {
      const now = Date.now();
      pending += b.toString();
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (/^\d{13}$/.test(line)) cli.push(now - Number(line));
    });
    assert.equal((await collectCli(logs)).code, 0);
    await page.locator(".output-status", { hasText: "End of output" }).waitFor();
    const inPage = await page.evaluate(() => (window as unknown as { latencies: number[] }).latencies);
    const p50 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    assert.equal(cli.length, 40);
    assert.ok(inPage.length >= 38, `${inPage.length} lines seen arriving in the page`);
    process.stdout.write(`# ui: live line latency (written to shown), p50: page ${p50(inPage)} ms, jobexec logs -f ${p50(cli)} ms (40 lines, one every 100 ms)\n`);
  });

  test("a 50 MB output opens at its tail without loading it all", async () => {
    const id = await start(t, "seq", "1", "6000000");
    assert.equal((await runCli(t, ["wait", id])).code, 0);
    // A fresh page of the same session (sessionStorage is per page), so that its heap is this output's only.
    const session = await page.evaluate(() => sessionStorage.getItem("jobexec-session") ?? "");
    await page.close();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${ui.origin}/`);
    await page.evaluate((stored) => sessionStorage.setItem("jobexec-session", stored), session);
    const began = Date.now();
    await page.goto(`${ui.origin}/jobs/${id}`);
    await page.locator(".line .text", { hasText: /^6000000$/ }).waitFor();
    const painted = Date.now() - began;
    const lines = await page.locator(".output-status").innerText();
    assert.match(lines, /5000 lines in view/);
    assert.match(await page.locator(".notice").innerText(), /Not shown: the first .* of stdout/);
    await page.getByRole("button", { name: "Load earlier" }).click();
    await page.locator(".output-status", { hasText: /lines in view/ }).waitFor();
    await eventually(async () => !/^5000 /.test((await page.locator(".output-status").innerText()).split("· ")[1] ?? ""));
    const heap = await heapMiB(page);
    // The head, then back to the tail.
    await page.getByRole("button", { name: "From the start" }).click();
    await page.locator(".line.selected .text", { hasText: /^1$/ }).waitFor();
    assert.equal(new URL(page.url()).hash, "#stdout:0");
    // A window from the head, not the 47 MB after it.
    await page.locator(".notice", { hasText: /not shown: what follows byte \d+/ }).waitFor();
    await page.getByRole("button", { name: "Open at the end" }).click();
    await page.locator(".line .text", { hasText: /^6000000$/ }).waitFor();
    assert.equal(new URL(page.url()).hash, "");
    process.stdout.write(`# ui: tail of a ${(6000000 * 7.8 / 1e6).toFixed(0)} MB output painted ${painted} ms after navigation; page heap ${heap.toFixed(1)} MiB after loading 512 KiB earlier\n`);
  });
});

describe("jobexec ui with 10 000 queued jobs", { skip }, () => {
  let t: CliServer;
  let ui: Console;
  let browser: Browser;

  before(async () => {
    t = await startCliServer({ queue: { maxRunning: 1 } });
    ui = await startUi(t);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
  });

  after(async () => {
    await browser?.close();
    if (ui !== undefined) await stopUi(ui);
    await t?.close();
  });

  test("the list holds them all, renders a screenful, filters by state in the address and scrolls to the oldest", async () => {
    const manager = t.server.manager;
    await manager.start({ program: "sleep", args: ["600"] }, "alice");
    const began = Date.now();
    for (let i = 0; i < 100; i++) await Promise.all(Array.from({ length: 100 }, (_, j) => manager.start({ program: "echo", args: [`queued ${i * 100 + j}`] }, "alice")));
    process.stdout.write(`# ui: 10 000 jobs queued in ${Date.now() - began} ms\n`);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const opened = Date.now();
    await page.goto(ui.openUrl);
    await page.locator(".live", { hasText: "10001 of 10001 jobs" }).waitFor({ timeout: 60_000 });
    const painted = Date.now() - opened;
    assert.ok((await page.locator(".job-row").count()) < 100);
    await page.getByRole("button", { name: /^queued/ }).click();
    await page.locator(".live", { hasText: "10000 of 10001 jobs" }).waitFor();
    assert.equal(new URL(page.url()).search, "?state=queued");
    await page.reload();
    await page.locator(".live", { hasText: "10000 of 10001 jobs" }).waitFor();
    const scrolled = Date.now();
    await page.locator(".job-list").evaluate((e) => (e.scrollTop = e.scrollHeight));
    // At the end of the list, the oldest: the next to start, with what it waits for.
    await page.locator(".job-row .result", { hasText: /^#1 host: 1 jobs running \(--max-running\)$/ }).waitFor();
    process.stdout.write(`# ui: list of 10 001 jobs painted ${painted} ms after opening; scrolled to the oldest in ${Date.now() - scrolled} ms\n`);
    await page.close();
  });
});

describe("jobexec ui without a browser", () => {
  let t: CliServer;
  let dir: string;

  before(async () => {
    t = await startCliServer();
    dir = await mkdtemp(join(tmpdir(), "jobexec-ui-test-"));
  });

  after(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("the browser is started on a 0600 file holding the address: the one-time code is on no command line", async () => {
    // A stand-in browser that records how it was started and what it was given.
    const browser = join(dir, "browser.sh");
    await writeFile(browser, `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/argv\nstat -c %a "$1" > ${dir}/mode\ncat "$1" > ${dir}/page\n`);
    await chmod(browser, 0o755);
    const runtime = join(dir, "run");
    await mkdir(runtime, { mode: 0o700 });
    const child = spawnCli(t, ["ui"], { env: { BROWSER: browser, XDG_RUNTIME_DIR: runtime } });
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    assert.ok(await eventually(() => existsSync(join(dir, "page"))), stderr);
    assert.ok(await eventually(async () => (await readFile(join(dir, "page"), "utf8")).includes("</p>")));
    const argv = (await readFile(join(dir, "argv"), "utf8")).trim();
    assert.equal(argv, join(runtime, "jobexec", `ui-${child.pid}-open.html`));
    assert.equal((await readFile(join(dir, "mode"), "utf8")).trim(), "600");
    const page = await readFile(join(dir, "page"), "utf8");
    const address = /url=(http:\/\/127\.0\.0\.1:(\d+)\/#code=([A-Za-z0-9_-]{43}))"/.exec(page);
    assert.ok(address !== null, page);
    assert.doesNotMatch(argv, /code=/);
    const session = await raw(Number(address[2]), "POST", "/session", { "content-type": "application/json" }, JSON.stringify({ code: address[3] }));
    assert.equal(session.status, 200);
    assert.match(session.body, /^\{"token":"[A-Za-z0-9_-]{43}","readOnly":false\}$/);
    child.kill("SIGINT");
    const result = await collectCli(child);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(argv), false, "the redirect file is removed");
  });

  test("bad credentials fail before anything is served, as every command fails; a bad --listen is a usage error", async () => {
    const foreign = await runCli(t, ["ui", "--no-open"], { user: "foreign" });
    assert.equal(foreign.code, 1);
    assert.equal(foreign.stdout.length, 0);
    assert.match(foreign.stderr, /^jobexec: .*(certificate|TLS)/);
    const listen = await runCli(t, ["ui", "--no-open", "--listen", "localhost"]);
    assert.equal(listen.code, 2);
    assert.match(listen.stderr, /--listen: "localhost" is not an address to listen on/);
  });

  test("another address than loopback is served only with a warning", async () => {
    const child = spawnCli(t, ["ui", "--no-open", "--listen", "0.0.0.0:0"]);
    let stderr = "";
    child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
    assert.ok(await eventually(() => stderr.includes("console at")), stderr);
    assert.match(stderr, /warning: --listen 0\.0\.0\.0:0 is not a loopback address: the console is served to the network over plain HTTP/);
    child.kill("SIGINT");
    await collectCli(child);
  });
});
