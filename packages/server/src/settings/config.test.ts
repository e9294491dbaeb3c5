import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseDuration, parseListen, parseServeArgs, serveHelp } from "./config.ts";
import { ServerError } from "../error.ts";
import { defaultConfigDir, defaultDataDir } from "./paths.ts";

const usage = (e: unknown) => e instanceof ServerError && e.code === "usage";

describe("serve settings", () => {
  test("defaults: loopback port 50051, certificates in the config directory", () => {
    const s = parseServeArgs([], { HOME: "/home/u", JOBEXEC_CONFIG_DIR: "/etc/jx" });
    assert.ok(s);
    assert.equal(s.host, "127.0.0.1");
    assert.equal(s.port, 50051);
    assert.equal(s.certFile, "/etc/jx/server.pem");
    assert.equal(s.keyFile, "/etc/jx/server.key");
    assert.equal(s.clientCaFile, "/etc/jx/ca.pem");
    assert.equal(s.cgroupParent, "jobexec");
    assert.equal(s.defaultGraceMs, 5000);
    assert.equal(s.logLevel, "info");
  });

  test("environment fallbacks, and flags win over them", () => {
    const env = { JOBEXEC_LISTEN: "0.0.0.0:7000", JOBEXEC_DATA_DIR: "/srv/jx", JOBEXEC_GRACE: "250ms", JOBEXEC_LOG_LEVEL: "debug", JOBEXEC_CGROUP_PARENT: "a/b" };
    const fromEnv = parseServeArgs([], env);
    assert.deepEqual([fromEnv?.host, fromEnv?.port, fromEnv?.dataDir, fromEnv?.defaultGraceMs, fromEnv?.logLevel, fromEnv?.cgroupParent], ["0.0.0.0", 7000, "/srv/jx", 250, "debug", "a/b"]);
    const fromFlags = parseServeArgs(["--listen", "[::1]:0", "--data-dir", "/d", "--grace", "2s", "--log-level", "warn"], env);
    assert.deepEqual([fromFlags?.host, fromFlags?.port, fromFlags?.dataDir, fromFlags?.defaultGraceMs, fromFlags?.logLevel], ["::1", 0, "/d", 2000, "warn"]);
  });

  test("accounts and quotas: defaults, environment fallbacks, flags", () => {
    const defaults = parseServeArgs([], {});
    assert.deepEqual([defaults?.runAs, defaults?.uidRange, defaults?.userMapFile, defaults?.maxJobsPerUser, defaults?.maxJobsAdmin], ["dynamic", { first: 61184, last: 65519 }, undefined, 64, 1024]);
    const env = { JOBEXEC_RUN_AS: "mapped", JOBEXEC_USER_MAP: "/etc/jx/users", JOBEXEC_MAX_JOBS_PER_USER: "5", JOBEXEC_MAX_JOBS_ADMIN: "9" };
    const fromEnv = parseServeArgs([], env);
    assert.deepEqual([fromEnv?.runAs, fromEnv?.uidRange, fromEnv?.userMapFile, fromEnv?.maxJobsPerUser, fromEnv?.maxJobsAdmin], ["mapped", undefined, "/etc/jx/users", 5, 9]);
    const fromFlags = parseServeArgs(["--run-as", "dynamic", "--uid-range", "70000-70010", "--max-jobs-per-user", "1"], { JOBEXEC_RUN_AS: "server" });
    assert.deepEqual([fromFlags?.runAs, fromFlags?.uidRange, fromFlags?.maxJobsPerUser], ["dynamic", { first: 70000, last: 70010 }, 1]);
    assert.equal(parseServeArgs(["--run-as", "server"], {})?.uidRange, undefined);
  });

  test("queue: defaults, flags, the old name of --max-running-per-user, and bad values named", () => {
    const defaults = parseServeArgs([], {});
    assert.deepEqual(defaults?.queue, { maxQueuedPerUser: 10_000, maxQueued: 100_000, starvationMs: 300_000 });
    const set = parseServeArgs(["--max-running-per-user", "3", "--max-running", "8", "--memory-capacity", "2G", "--cpu-capacity", "1.5", "--max-queued-per-user", "5", "--max-queued", "9", "--starvation-bound", "30s"], {});
    assert.equal(set?.maxJobsPerUser, 3);
    assert.deepEqual(set?.queue, { maxRunning: 8, memoryCapacityBytes: 2 * 1024 ** 3, cpuCapacity: 1.5, maxQueuedPerUser: 5, maxQueued: 9, starvationMs: 30_000 });
    assert.equal(parseServeArgs(["--max-running-per-user", "4", "--max-jobs-per-user", "4"], {})?.maxJobsPerUser, 4);
    for (const [args, message] of [
      [["--max-running-per-user", "4", "--max-jobs-per-user", "5"], /^--max-running-per-user "4" and its old name --max-jobs-per-user "5" disagree: give one$/],
      [["--max-running", "0"], /^--max-running "0" is not a whole number above 0$/],
      [["--cpu-capacity", "0"], /^--cpu-capacity "0" is not a number of CPUs above 0/],
      [["--cpu-capacity", "two"], /^--cpu-capacity "two" is not a number of CPUs above 0/],
      [["--max-queued", "lots"], /^--max-queued "lots" is not a whole number above 0$/],
      [["--memory-capacity", "0"], /^--memory-capacity must be more than 0 bytes$/],
    ] as const) {
      assert.throws(() => parseServeArgs([...args], {}), { message });
    }
  });

  test("queue weights: --queue-weight IDENTITY=N repeated, or JOBEXEC_QUEUE_WEIGHTS; the flags win; bad ones named", () => {
    assert.deepEqual(parseServeArgs(["--queue-weight", "alice=2", "--queue-weight=ci=bot=1000"], {})?.queue.weights, { alice: 2, "ci=bot": 1000 });
    assert.deepEqual(parseServeArgs([], { JOBEXEC_QUEUE_WEIGHTS: "alice=3, bob=1" })?.queue.weights, { alice: 3, bob: 1 });
    assert.deepEqual(parseServeArgs(["--queue-weight", "carol=5"], { JOBEXEC_QUEUE_WEIGHTS: "alice=3" })?.queue.weights, { carol: 5 });
    assert.equal(parseServeArgs([], {})?.queue.weights, undefined);
    assert.match(serveHelp({}), /--queue-weight IDENTITY=N +fair-share weight of an identity, 1-1000 \(repeatable[^\n]*\n +env JOBEXEC_QUEUE_WEIGHTS; default 1 each\n/);
    for (const [args, env, message] of [
      [["--queue-weight", "alice"], {}, /^--queue-weight "alice" is not IDENTITY=N \(e\.g\. alice=2\)$/],
      [["--queue-weight", "=2"], {}, /^--queue-weight "=2" is not IDENTITY=N/],
      [["--queue-weight", "alice=0"], {}, /^--queue-weight "alice=0": the weight is not a whole number from 1 to 1000$/],
      [["--queue-weight", "alice=1.5"], {}, /^--queue-weight "alice=1\.5": the weight is not a whole number from 1 to 1000$/],
      [["--queue-weight", "alice=1001"], {}, /^--queue-weight "alice=1001": the weight is not a whole number/],
      [["--queue-weight", "alice="], {}, /^--queue-weight "alice=": the weight is not a whole number/],
      [["--queue-weight", "alice=2", "--queue-weight", "alice=3"], {}, /^--queue-weight gives "alice" a weight twice: give one$/],
      [[], { JOBEXEC_QUEUE_WEIGHTS: "alice=2,bob" }, /^--queue-weight "bob" is not IDENTITY=N/],
    ] as const) {
      assert.throws(() => parseServeArgs([...args], env), { message });
    }
  });

  test("--standby: default 2, environment fallback, flag; 0 to 32", () => {
    assert.equal(parseServeArgs([], {})?.standby, 2);
    assert.equal(parseServeArgs([], { JOBEXEC_STANDBY: "0" })?.standby, 0);
    assert.equal(parseServeArgs(["--standby", "5"], { JOBEXEC_STANDBY: "0" })?.standby, 5);
    assert.equal(parseServeArgs(["--standby=32"], {})?.standby, 32);
    for (const bad of ["-1", "33", "two", "1.5", ""]) {
      assert.throws(() => parseServeArgs([`--standby=${bad}`], {}), { code: "usage", message: `--standby ${JSON.stringify(bad)} is not a whole number from 0 to 32` });
    }
    assert.match(serveHelp({}), /--standby N +cgexec processes kept started ahead per output mode in use, 0-32 \(0: none\)\n +env JOBEXEC_STANDBY; default 2\n/);
  });

  test("--usage-sample-interval: default 5s, environment fallback, flag; 0 turns it off, below 100ms refused", () => {
    assert.equal(parseServeArgs([], {})?.usageSampleMs, 5000);
    assert.equal(parseServeArgs([], { JOBEXEC_USAGE_SAMPLE_INTERVAL: "0" })?.usageSampleMs, 0);
    assert.equal(parseServeArgs(["--usage-sample-interval", "250ms"], { JOBEXEC_USAGE_SAMPLE_INTERVAL: "0" })?.usageSampleMs, 250);
    assert.throws(() => parseServeArgs(["--usage-sample-interval=50ms"], {}), { code: "usage", message: '--usage-sample-interval "50ms" is below 100ms (0 turns sampling off)' });
  });

  test("--default-isolation: none by default; network=none, private-tmp[=SIZE], read-only; bad words refused", () => {
    assert.deepEqual(parseServeArgs([], {})?.defaultIsolation, {});
    assert.deepEqual(parseServeArgs([], { JOBEXEC_DEFAULT_ISOLATION: "network=none" })?.defaultIsolation, { privateNetwork: true });
    assert.deepEqual(parseServeArgs(["--default-isolation", "network=none,private-tmp=128MiB,read-only"], { JOBEXEC_DEFAULT_ISOLATION: "none" })?.defaultIsolation, {
      privateNetwork: true,
      privateTmp: true,
      privateTmpBytes: 128 * 1024 * 1024,
      readOnlySystem: true,
    });
    assert.deepEqual(parseServeArgs(["--default-isolation=private-tmp"], {})?.defaultIsolation, { privateTmp: true });
    for (const bad of ["network", "network=host", "private-tmp=lots", "read-only=yes", "", "none,read-only"]) {
      assert.throws(() => parseServeArgs([`--default-isolation=${bad}`], {}), (e: unknown) => usage(e) && /is not one of none, or a comma-separated list of network=none, private-tmp\[=SIZE\], read-only$|is not a size/.test((e as Error).message));
    }
    assert.throws(() => parseServeArgs(["--default-isolation=private-tmp=0"], {}), { code: "usage", message: '--default-isolation "private-tmp=0": the private-tmp size must be above 0' });
    assert.match(serveHelp({}), /--default-isolation LIST +isolation of jobs whose request leaves a field unset: none, or a comma-separated list of network=none, private-tmp\[=SIZE\], read-only\n +env JOBEXEC_DEFAULT_ISOLATION; default none\n/);
  });

  test("--help returns undefined and the help names every flag with its variable", () => {
    assert.equal(parseServeArgs(["--help"], {}), undefined);
    const help = serveHelp({ HOME: "/home/u" });
    assert.match(help, /--max-running-per-user N +running jobs one user may have at once; more wait in the queue\n +env JOBEXEC_MAX_RUNNING_PER_USER; default 64\n/);
    assert.match(help, /--max-jobs-per-user N +the old name of --max-running-per-user\n/);
    assert.match(help, /--user-map FILE .*\n +env JOBEXEC_USER_MAP; default none\n/);
    for (const text of ["--listen", "JOBEXEC_LISTEN", "--cert", "JOBEXEC_TLS_CERT", "--client-ca", "--data-dir", "--cgroup-parent", "--grace", "--log-level", "--run-as", "JOBEXEC_RUN_AS", "--uid-range", "61184-65519", "--max-jobs-admin", "1024"]) {
      assert.ok(help.includes(text), text);
    }
  });

  test("bad values are usage errors", () => {
    assert.throws(() => parseServeArgs(["--bogus"], {}), usage);
    assert.throws(() => parseServeArgs(["positional"], {}), usage);
    assert.throws(() => parseServeArgs(["--log-level", "loud"], {}), usage);
    assert.throws(() => parseServeArgs(["--cgroup-parent", "../escape"], {}), usage);
    assert.throws(() => parseServeArgs(["--grace", "-1s"], {}), usage);
  });

  test("durability settings: defaults, environment, flags, and what is refused", () => {
    const d = parseServeArgs([], { HOME: "/h", JOBEXEC_DATA_DIR: "/srv/jx" });
    assert.deepEqual(
      [d?.stateFile, d?.onShutdown, d?.maxOutputBytes, d?.maxTimeoutMs, d?.retainMs, d?.outputBudgetBytes, d?.minFreeBytes],
      ["/srv/jx/state.db", "stop", 2 ** 30, undefined, 7 * 86_400_000, 10 * 2 ** 30, 256 * 2 ** 20],
    );
    const env = { JOBEXEC_ON_SHUTDOWN: "keep", JOBEXEC_MAX_OUTPUT: "10M", JOBEXEC_MAX_TIMEOUT: "2h", JOBEXEC_RETAIN: "12h", JOBEXEC_STATE_FILE: ":memory:" };
    const e = parseServeArgs([], env);
    assert.deepEqual([e?.onShutdown, e?.maxOutputBytes, e?.maxTimeoutMs, e?.retainMs, e?.stateFile], ["keep", 10 * 2 ** 20, 7_200_000, 43_200_000, ":memory:"]);
    const f = parseServeArgs(["--on-shutdown=stop", "--max-output=1KiB", "--output-budget=5G", "--min-free=0", "--state-file=/s.db"], env);
    assert.deepEqual([f?.onShutdown, f?.maxOutputBytes, f?.outputBudgetBytes, f?.minFreeBytes, f?.stateFile], ["stop", 1024, 5 * 2 ** 30, 0, "/s.db"]);
    for (const bad of [["--on-shutdown=later"], ["--max-output=0"], ["--max-output=lots"], ["--max-timeout=0"], ["--retain=forever"], ["--max-output=2G", "--output-budget=1G"]]) {
      assert.throws(() => parseServeArgs(bad, {}), usage, bad.join(" "));
    }
  });

  test("per-user bounds of finished jobs: defaults, environment, flags, and what is refused", () => {
    const d = parseServeArgs([], {});
    assert.deepEqual([d?.outputBudgetPerUserBytes, d?.maxRecordsPerUser, d?.maxRecordBytesPerUser], [undefined, 10_000, 64 * 2 ** 20], "the budget's default is core's");
    const env = { JOBEXEC_OUTPUT_BUDGET_PER_USER: "3G", JOBEXEC_MAX_RECORDS_PER_USER: "50", JOBEXEC_MAX_RECORD_BYTES_PER_USER: "1M" };
    const e = parseServeArgs([], env);
    assert.deepEqual([e?.outputBudgetPerUserBytes, e?.maxRecordsPerUser, e?.maxRecordBytesPerUser], [3 * 2 ** 30, 50, 2 ** 20]);
    const f = parseServeArgs(["--output-budget-per-user=1G", "--max-records-per-user=7", "--max-record-bytes-per-user=100K"], env);
    assert.deepEqual([f?.outputBudgetPerUserBytes, f?.maxRecordsPerUser, f?.maxRecordBytesPerUser], [2 ** 30, 7, 100 * 1024]);
    for (const bad of [
      ["--output-budget-per-user=512M"],
      ["--output-budget-per-user=11G"],
      ["--output-budget-per-user=0"],
      ["--max-records-per-user=0"],
      ["--max-records-per-user=many"],
      ["--max-record-bytes-per-user=0"],
    ]) {
      assert.throws(() => parseServeArgs(bad, {}), usage, bad.join(" "));
    }
  });

  test("listen addresses", () => {
    assert.deepEqual(parseListen("localhost:80"), { host: "localhost", port: 80 });
    assert.deepEqual(parseListen("[::]:443"), { host: "::", port: 443 });
    assert.deepEqual(parseListen(":9000"), { host: "::", port: 9000 });
    for (const bad of ["9000", "host:", "host:99999", "[::1]", "a:b:c"]) assert.throws(() => parseListen(bad), usage, bad);
  });

  test("durations", () => {
    assert.equal(parseDuration("5"), 5000);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("20ms"), 20);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("3h"), 10_800_000);
    assert.equal(parseDuration("7d"), 604_800_000);
    assert.throws(() => parseDuration("soon"), usage);
  });

  test("directories: config shared with the CLI; data under /var/lib for root, XDG state otherwise", () => {
    assert.equal(defaultConfigDir({ JOBEXEC_CONFIG_DIR: "/c" }), "/c");
    assert.equal(defaultConfigDir({ XDG_CONFIG_HOME: "/x" }), "/x/jobexec");
    assert.equal(defaultConfigDir({ HOME: "/h" }), "/h/.config/jobexec");
    assert.equal(defaultDataDir({ HOME: "/h" }, 0), "/var/lib/jobexec");
    assert.equal(defaultDataDir({ HOME: "/h" }, 1000), "/h/.local/state/jobexec");
    assert.equal(defaultDataDir({ HOME: "/h", XDG_STATE_HOME: "/s" }, 1000), "/s/jobexec");
  });
});
