// Which SysV IPC objects belong to an account (unit, on /proc/sysvipc tables), and their removal at start-up.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { test } from "node:test";
import { JobManager } from "../job-manager.ts";
import { followAll, reachableTempDir, uniqueParent } from "../test-support/fixture.ts";
import type { LogEvent } from "../types.ts";
import { sysvIpcOf } from "./remove-ipc.ts";

const shm = `       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
         0          7   600                  4096  1201  1201      0 61184 61184 61184 61184          0          0 1765130000                     0                     0
         0          8   600                  4096  1202  1202      1     0     0 61185 61185          0          0 1765130000                     0                     0
         0          9   666                  4096  1203  1203      0     0 61186     0     0          0          0 1765130000                     0                     0
         0         10   600                  4096  1204  1204      0  1000  1000  1000  1000          0          0 1765130000                     0                     0
`;

test("an account's objects are those it owns or created, by uid or gid (a dynamic account's gid is its uid)", () => {
  assert.deepEqual(sysvIpcOf(shm, "shmid", new Set([61184])), [7]);
  assert.deepEqual(sysvIpcOf(shm, "shmid", new Set([61185])), [8], "created by it, given to root since");
  assert.deepEqual(sysvIpcOf(shm, "shmid", new Set([61186])), [9], "its group");
  assert.deepEqual(sysvIpcOf(shm, "shmid", new Set([61184, 61185, 61186])), [7, 8, 9]);
  assert.deepEqual(sysvIpcOf(shm, "shmid", new Set([61187])), []);
});

test("a table without the columns asked for, or empty, names nothing", () => {
  assert.deepEqual(sysvIpcOf(shm, "msqid", new Set([61184])), []);
  assert.deepEqual(sysvIpcOf("", "shmid", new Set([61184])), []);
  const msg = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n";
  assert.deepEqual(sysvIpcOf(msg, "msqid", new Set([61184])), []);
});

test(
  "at start-up, what an idle dynamic account left (while no manager ran) is removed before its next job",
  { skip: process.getuid?.() !== 0 && "needs root", timeout: 60_000 },
  async (t) => {
    const dataDir = await reachableTempDir("jobexec-core-ipc-");
    const cgroupParent = uniqueParent();
    let manager = await JobManager.create({ dataDir, cgroupParent });
    t.after(async () => {
      await manager.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    const job = await manager.start({ program: "true" }, "alice");
    await followAll(manager, job.id);
    await manager.close();
    const uid = String(job.account?.uid);
    // Made as alice's account while no manager runs (as a job a crashed server never saw end would have).
    const made = execFileSync("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "ipcmk", "-M", "4096"], { encoding: "utf8" });
    const id = Number(/Shared memory id: (\d+)/.exec(made)?.[1]);
    const owned = (): number[] => sysvIpcOf(readFileSync("/proc/sysvipc/shm", "utf8"), "shmid", new Set([Number(uid)]));
    // Another test's account may have left objects of this uid too (uids are reused once no file of theirs is left).
    assert.ok(owned().includes(id), `segment ${String(id)} among ${owned().join(", ")}`);
    const logs: LogEvent[] = [];
    manager = await JobManager.create({ dataDir, cgroupParent, log: (e) => logs.push(e) });
    assert.deepEqual(owned(), []);
    assert.ok(logs.some((e) => e.message.startsWith("removed what the 1 dynamic account(s) that run no job left: ") && e.message.includes(`shared memory segment ${String(id)}`)));
  },
);
