import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseServeArgs, serveHelp } from "./config.ts";
import { ADMIN_HEADROOM, connectionBudget, METRICS_MAX_CONNECTIONS } from "../network/connection-limits.ts";
import { ServerError } from "../error.ts";
import { openFileLimit } from "../network/fd-limit.ts";
import { defaultLimits, limitSettings, parseSize } from "./limits.ts";

const usage = (e: unknown) => e instanceof ServerError && e.code === "usage";

describe("limit settings", () => {
  test("defaults, environment fallbacks, and flags winning over them", () => {
    assert.deepEqual(parseServeArgs([], {})?.limits, defaultLimits);
    const env = { JOBEXEC_MAX_CONNECTIONS: "100", JOBEXEC_IDLE_TIMEOUT: "30s", JOBEXEC_MAX_ARGS_SIZE: "64KiB" };
    const fromEnv = parseServeArgs([], env)?.limits;
    assert.deepEqual([fromEnv?.maxConnections, fromEnv?.idleTimeoutMs, fromEnv?.maxArgsBytes], [100, 30_000, 64 * 1024]);
    const fromFlags = parseServeArgs(["--max-connections", "7", "--handshake-timeout", "250ms", "--keepalive-time", "2h", "--idle-timeout", "0"], env)?.limits;
    assert.deepEqual([fromFlags?.maxConnections, fromFlags?.handshakeTimeoutMs, fromFlags?.keepaliveTimeMs, fromFlags?.idleTimeoutMs], [7, 250, 7_200_000, 0]);
  });

  test("bad values are usage errors naming the flag", () => {
    for (const args of [["--max-connections", "0"], ["--max-connections", "-3"], ["--max-connections", "1.5"], ["--handshake-timeout", "0"], ["--max-request-size", "lots"], ["--max-args-size", "1MiB"]]) {
      assert.throws(() => parseServeArgs(args, {}), (e: unknown) => usage(e) && (e as Error).message.includes(args[0] ?? ""), args.join(" "));
    }
  });

  test("sizes", () => {
    assert.deepEqual(["131072", "128K", "128KiB", "1M", "1MiB", "2G", "512B"].map((s) => parseSize(s)), [131072, 131072, 131072, 1048576, 1048576, 2 * 1024 ** 3, 512]);
    assert.throws(() => parseSize("1 TB"), usage);
  });

  test("--help lists every limit with its variable and default", () => {
    const help = serveHelp({});
    for (const l of limitSettings) assert.ok(help.includes(`--${l.flag}`) && help.includes(`env ${l.env}; default ${l.text}`), l.flag);
  });

  test("connections fit under the open-file limit: a quarter reserved at most, and the admins' headroom", () => {
    const metricsConnections = METRICS_MAX_CONNECTIONS;
    assert.deepEqual(connectionBudget(4096, 1024, 20000), { maxConnections: 4096, maxSockets: 4096 + ADMIN_HEADROOM, reserve: 1024, metricsConnections });
    assert.deepEqual(connectionBudget(4096, 1024, 4096), { maxConnections: 4096 - 1024 - ADMIN_HEADROOM, maxSockets: 4096 - 1024, reserve: 1024, metricsConnections, loweredFrom: 4096 });
    assert.deepEqual(connectionBudget(4096, 1024, 1024), { maxConnections: 1024 - 256 - ADMIN_HEADROOM, maxSockets: 1024 - 256, reserve: 256, metricsConnections, loweredFrom: 4096 });
    assert.equal(connectionBudget(4096, 1024, undefined).maxConnections, 4096);
    // The metrics endpoint's connections are an eighth of the reserve at most, inside it.
    assert.equal(connectionBudget(4096, 1024, 64).metricsConnections, 2);
    assert.equal(connectionBudget(4096, 0, 20000).metricsConnections, 1);
  });

  test("the open-file limit is read from /proc/self/limits", () => {
    const sample = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                524288               files\n";
    assert.equal(openFileLimit(sample), 20000);
    assert.equal(openFileLimit("Max open files            unlimited            unlimited            files\n"), undefined);
    const own = openFileLimit();
    assert.ok(own !== undefined && own > 0);
  });
});
