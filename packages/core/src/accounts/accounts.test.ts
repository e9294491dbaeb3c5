// Unit tests of the accounts folder's parts on real files: names, user maps, uid ranges, the persisted mapping.
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { LogEvent } from "../types.ts";
import { DynamicUids } from "./dynamic-uids.ts";
import { UidClaims } from "./uid-claims.ts";
import { homeName } from "./homes.ts";
import { type LocalAccounts, readLocalAccounts } from "./local-accounts.ts";
import { permits } from "./path-access.ts";
import { parseUidRange } from "./uid-range.ts";
import { matchUserMap, parseUserMap } from "./user-map.ts";

describe("homeName", () => {
  test("a name of the portable alphabet is kept; anything else is percent-encoded, one-to-one", () => {
    assert.equal(homeName("alice"), "alice");
    assert.equal(homeName("ci-runner_2@example.org"), "ci-runner_2@example.org");
    assert.equal(homeName("a/b"), "a%2Fb");
    assert.equal(homeName(".."), "%2E.");
    assert.equal(homeName(".hidden"), "%2Ehidden");
    assert.equal(homeName("50%"), "50%25");
    assert.equal(homeName("Zoë Ünïcode"), "Zo%C3%AB%20%C3%9Cn%C3%AFcode");
    // What a literal name could never be: each encodes differently.
    const names = ["a/b", "a%2Fb", "a_b", "a b", "%", "%25", ".", "%2E"];
    assert.equal(new Set(names.map(homeName)).size, names.length);
  });

  test("a long name ends in a hash of the whole and stays below 255 bytes", () => {
    const a = homeName("é".repeat(100));
    const b = homeName(`${"é".repeat(99)}e`);
    assert.ok(a.length <= 200 && b.length <= 200, String(a.length));
    assert.notEqual(a, b);
    assert.match(a, /%%[0-9a-f]{40}$/);
  });
});

describe("permits", () => {
  const file = (uid: number, gid: number, mode: number) => ({ uid, gid, mode: 0o100000 | mode });
  const alice = { uid: 61184, gid: 61184, groups: [] };
  test("owner, then group (primary or supplementary), then other, as the kernel checks", () => {
    assert.equal(permits(file(61184, 0, 0o700), alice, 1), true);
    assert.equal(permits(file(61184, 0, 0o077), alice, 1), false, "the owner class decides even when others may");
    assert.equal(permits(file(0, 61184, 0o710), alice, 1), true);
    assert.equal(permits(file(0, 5, 0o710), { ...alice, groups: [5] }, 1), true);
    assert.equal(permits(file(0, 5, 0o701), { ...alice, groups: [5] }, 1), false);
    assert.equal(permits(file(0, 0, 0o701), alice, 1), true);
    assert.equal(permits(file(0, 0, 0o700), alice, 1), false);
  });
  test("root searches every directory, and executes a file with any execute bit", () => {
    const root = { uid: 0, gid: 0, groups: [] };
    assert.equal(permits({ uid: 5, gid: 5, mode: 0o040000 }, root, 1), true);
    assert.equal(permits(file(5, 5, 0o600), root, 1), false);
    assert.equal(permits(file(5, 5, 0o601), root, 1), true);
  });
});

describe("parseUidRange", () => {
  test("FIRST-LAST", () => assert.deepEqual(parseUidRange("61184-65519"), { first: 61184, last: 65519 }));
  test("refuses a malformed, empty, root-including or too large range with one sentence", () => {
    const bad: [string, RegExp][] = [
      ["61184", /is not FIRST-LAST/],
      ["a-b", /is not FIRST-LAST/],
      ["-5-10", /is not FIRST-LAST/],
      ["65519-61184", /^uid range 65519-61184 is empty \(its first uid is above its last\)$/],
      ["0-100", /^uid range 0-100 includes uid 0 \(root\)$/],
      ["1-4294967295", /must be whole numbers from 1 to 4294967294/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseUidRange(text), { code: "invalid_argument", message }, text);
  });
});

describe("user maps", () => {
  let local: LocalAccounts;
  before(async () => {
    local = await readLocalAccounts();
  });
  const ids = (account: string) => {
    const user = local.users.get(account);
    assert.ok(user, `this host has no ${account}`);
    return user;
  };

  test("exact names win over patterns, then the first matching pattern; # comments and blank lines", () => {
    const map = parseUserMap("# users\n\nci-*: daemon\nci-special: bin\n*-bot: sys\n  alice :  nobody  \n", "map", local);
    assert.equal(matchUserMap(map, "ci-special")?.account, "bin");
    assert.equal(matchUserMap(map, "ci-x-bot")?.account, "daemon");
    assert.equal(matchUserMap(map, "x-bot")?.account, "sys");
    assert.equal(matchUserMap(map, "alice")?.account, "nobody");
    assert.equal(matchUserMap(map, "ci-")?.account, "daemon", "* matches an empty run");
    assert.equal(matchUserMap(map, "bob"), undefined);
    assert.equal(matchUserMap(map, "Alice"), undefined, "identities are case-sensitive");
    assert.equal(matchUserMap(parseUserMap("a.b: bin\n", "map", local), "aXb"), undefined, "only * is special");
    assert.deepEqual(map.root, []);
  });

  test("an account's uid, primary gid, and the groups that list it as a member", () => {
    const postgres = ids("postgres");
    const rule = matchUserMap(parseUserMap("alice: postgres\n", "map", local), "alice");
    const expected = [postgres.gid, ...(local.memberOf.get("postgres") ?? [])];
    assert.deepEqual(rule && { uid: rule.uid, gid: rule.gid, groups: rule.groups }, { uid: postgres.uid, gid: postgres.gid, groups: expected });
    assert.ok(expected.length > 1, "postgres is in ssl-cert on this host");
  });

  test("uid 0 only with !, and ! only for uid 0", () => {
    const map = parseUserMap("ops: root!\n", "/etc/jobexec/users", local);
    assert.deepEqual(map.root.map((r) => [r.pattern, r.account, r.uid, r.where]), [["ops", "root", 0, "/etc/jobexec/users:1"]]);
    assert.throws(() => parseUserMap("# x\nops: root\n", "users", local), {
      code: "invalid_argument",
      message: 'user map users:2: account "root" is uid 0; write "root!" to let jobs run as root',
    });
    assert.throws(() => parseUserMap("ops: daemon!\n", "users", local), { message: 'user map users:1: "!" marks an account with uid 0, and "daemon" is uid 1' });
  });

  test("malformed lines, unknown accounts and duplicates are one sentence naming the line", () => {
    const bad: [string, RegExp][] = [
      ["alice nobody\n", /^user map m:1: "alice nobody" is not "IDENTITY: ACCOUNT"$/],
      ["alice:\n", /^user map m:1: "alice:" is not "IDENTITY: ACCOUNT"$/],
      [": nobody\n", /is not "IDENTITY: ACCOUNT"/],
      ["\nalice: no-such-account-here\n", /^user map m:2: there is no local account "no-such-account-here" \(in \/etc\/passwd\)$/],
      ["alice: nobody\nalice: bin\n", /^user map m:2: "alice" is mapped twice$/],
    ];
    for (const [text, message] of bad) assert.throws(() => parseUserMap(text, "m", local), { code: "invalid_argument", message }, text);
  });
});

/** The leftover check of these tests: this host's uids are used by whatever else runs on it. */
const nothingLeft = (): Promise<undefined> => Promise.resolve(undefined);

describe("DynamicUids", () => {
  let dir: string;
  const logs: LogEvent[] = [];
  const log = (e: LogEvent): void => void logs.push(e);
  // Claims of these tests' own: the host's are shared with every server running meanwhile.
  const claims = (file: string, under = "claims"): UidClaims => new UidClaims(file, join(dir, under));
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-dynamic-uids-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("allocates in order, skips uids a local account or group owns, persists atomically, and is exhausted", async () => {
    const local = await readLocalAccounts();
    assert.ok(local.uids.has(65534), "nobody is uid 65534 here");
    const file = join(dir, "a.json");
    const uids = await DynamicUids.load(file, { first: 65533, last: 65535 }, local, log, claims(file), nothingLeft);
    const [alice, bob] = [await uids.uidOf("alice"), await uids.uidOf("bob")];
    assert.deepEqual([alice, bob, await uids.uidOf("alice")], [65533, 65535, 65533]);
    await assert.rejects(uids.uidOf("carol"), { code: "resource_exhausted", message: "no uid is left in the range 65533-65535 for a new identity's account" });
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), { version: 1, uids: { alice: 65533, bob: 65535 } });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).sort(), ["a.json", "claims"], "no temp file is left");
    // A restart sees the same mapping.
    const again = await DynamicUids.load(file, { first: 65533, last: 65535 }, local, log, claims(file), nothingLeft);
    assert.deepEqual([await again.uidOf("bob"), await again.uidOf("alice")], [65535, 65533]);
  });

  test("concurrent first uses of many identities each get a uid of their own", async () => {
    const uids = await DynamicUids.load(join(dir, "b.json"), { first: 61184, last: 65519 }, await readLocalAccounts(), log, claims(join(dir, "b.json")), nothingLeft);
    const names = Array.from({ length: 20 }, (_, i) => `user${String(i)}`);
    const got = await Promise.all([...names, ...names].map((name) => uids.uidOf(name)));
    assert.equal(new Set(got.slice(0, 20)).size, 20);
    assert.deepEqual(got.slice(20), got.slice(0, 20));
    const stored = JSON.parse(await readFile(join(dir, "b.json"), "utf8")) as { uids: Record<string, number> };
    assert.deepEqual(Object.keys(stored.uids).sort(), names.toSorted());
  });

  test("a stored uid outside the range, owned locally or given twice is given up with a warning", async () => {
    const file = join(dir, "c.json");
    await writeFile(file, JSON.stringify({ version: 1, uids: { out: 70000, nobody: 65534, first: 61190, twice: 61190, ok: 61191 } }));
    logs.length = 0;
    const uids = await DynamicUids.load(file, { first: 61184, last: 65535 }, await readLocalAccounts(), log, claims(file, "c-claims"), nothingLeft);
    assert.equal(await uids.uidOf("ok"), 61191);
    assert.equal(await uids.uidOf("first"), 61190);
    assert.equal(await uids.uidOf("twice"), 61184, "a new uid, the lowest free one");
    const warnings = logs.filter((e) => e.level === "warn").map((e) => e.message);
    assert.deepEqual(warnings, [
      'dynamic account of "out": uid 70000 is outside the uid range 61184-65535; it gets a new uid on its next job',
      'dynamic account of "nobody": uid 65534 is owned by a local account or group; it gets a new uid on its next job',
      'dynamic account of "twice": uid 61190 is given to another identity too; it gets a new uid on its next job',
    ]);
  });

  test("a uid that something of an earlier owner is left of is skipped, with a warning, and its claim given up", async () => {
    const file = join(dir, "e.json");
    const checked: number[] = [];
    const leftover = (uid: number): Promise<string | undefined> => {
      checked.push(uid);
      return Promise.resolve(uid === 61184 ? "it owns /tmp/note" : undefined);
    };
    logs.length = 0;
    const uids = await DynamicUids.load(file, { first: 61184, last: 65519 }, await readLocalAccounts(), log, claims(file, "e-claims"), leftover);
    assert.equal(await uids.uidOf("bob"), 61185);
    assert.deepEqual(checked, [61184, 61185]);
    assert.deepEqual(logs.map((e) => [e.level, e.message]), [["warn", 'uid 61184 is not given to "bob": something of an earlier owner is left (it owns /tmp/note)']]);
    assert.deepEqual(await readdir(join(dir, "e-claims")), ["61185"], "the skipped uid's claim is given up");
    assert.equal(await uids.uidOf("bob"), 61185, "known identities are not checked again");
    assert.deepEqual(checked, [61184, 61185]);
  });

  test("a corrupt file is failed_precondition with what to do", async () => {
    const file = join(dir, "d.json");
    for (const text of ["{", '{"version":2,"uids":{}}', '{"version":1,"uids":{"a":"x"}}']) {
      await writeFile(file, text);
      await assert.rejects(DynamicUids.load(file, { first: 61184, last: 65519 }, await readLocalAccounts(), log, claims(file), nothingLeft), {
        code: "failed_precondition",
        message: /^the dynamic accounts file \S+d\.json is corrupt \(.+\): restore it, or remove it to give every identity a new uid$/,
      });
    }
  });
});

describe("UidClaims: two managers on one host", () => {
  let dir: string;
  const logs: LogEvent[] = [];
  const log = (e: LogEvent): void => void logs.push(e);
  const range = { first: 61184, last: 65519 };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobexec-uid-claims-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("never give one uid to two identities, also across restarts", async () => {
    const claimsDir = join(dir, "claims-1");
    const [fileA, fileB] = [join(dir, "a.json"), join(dir, "b.json")];
    const a = await DynamicUids.load(fileA, range, await readLocalAccounts(), log, new UidClaims(fileA, claimsDir), nothingLeft);
    const b = await DynamicUids.load(fileB, range, await readLocalAccounts(), log, new UidClaims(fileB, claimsDir), nothingLeft);
    const got = await Promise.all(["alice", "bob", "carol"].flatMap((name) => [a.uidOf(name), b.uidOf(`${name}-b`)]));
    assert.equal(new Set(got).size, 6, `six identities, six uids: ${got.join(" ")}`);
    const again = await DynamicUids.load(fileB, range, await readLocalAccounts(), log, new UidClaims(fileB, claimsDir), nothingLeft);
    assert.equal(await again.uidOf("bob-b"), got[3], "a restart keeps its own claims");
  });

  test("a claim whose manager's mapping is gone is taken over once it has settled; a recent one is not", async () => {
    const claimsDir = join(dir, "claims-2");
    const [fileA, fileB] = [join(dir, "gone.json"), join(dir, "next.json")];
    const a = await DynamicUids.load(fileA, range, await readLocalAccounts(), log, new UidClaims(fileA, claimsDir), nothingLeft);
    const uid = await a.uidOf("alice");
    await rm(fileA); // its data directory was removed
    const b = await DynamicUids.load(fileB, range, await readLocalAccounts(), log, new UidClaims(fileB, claimsDir), nothingLeft);
    assert.notEqual(await b.uidOf("early"), uid, "a claim younger than a minute is still in force");
    const old = new Date(Date.now() - 120_000);
    await utimes(join(claimsDir, String(uid)), old, old);
    assert.equal(await b.uidOf("late"), uid, "a settled claim without a mapping behind it is reused");
  });

  test("a stored uid that another manager claimed meanwhile (e.g. after a reboot) is given up with a warning", async () => {
    const claimsDir = join(dir, "claims-3");
    const [fileA, fileB] = [join(dir, "first.json"), join(dir, "second.json")];
    await writeFile(fileA, JSON.stringify({ version: 1, uids: { alice: 61200 } }));
    await writeFile(fileB, JSON.stringify({ version: 1, uids: { bob: 61200 } }));
    await DynamicUids.load(fileA, range, await readLocalAccounts(), log, new UidClaims(fileA, claimsDir), nothingLeft);
    logs.length = 0;
    const b = await DynamicUids.load(fileB, range, await readLocalAccounts(), log, new UidClaims(fileB, claimsDir), nothingLeft);
    assert.deepEqual(logs.map((e) => e.message), [
      'dynamic account of "bob": uid 61200 is claimed by another jobexec server on this host; it gets a new uid on its next job',
    ]);
    assert.notEqual(await b.uidOf("bob"), 61200);
  });
});

describe("readLocalAccounts", () => {
  test("reads users, uids, gids and memberships, skipping comments and malformed lines", async () => {
    const etc = await mkdtemp(join(tmpdir(), "jobexec-etc-"));
    try {
      await writeFile(join(etc, "passwd"), "# comment\nroot:x:0:0::/root:/bin/sh\nbad line\nweird:x:abc:1::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
      await writeFile(join(etc, "group"), "root:x:0:\nstaff:x:50:alice,bob\nalice:x:1000:\n");
      const local = await readLocalAccounts(etc);
      assert.deepEqual([...local.users.keys()], ["root", "alice"]);
      assert.deepEqual([...local.uids].sort(), [0, 1000]);
      assert.deepEqual([...local.gids].sort((a, b) => a - b), [0, 50, 1000]);
      assert.deepEqual(local.memberOf.get("alice"), [50]);
    } finally {
      await rm(etc, { recursive: true, force: true });
    }
  });
});
