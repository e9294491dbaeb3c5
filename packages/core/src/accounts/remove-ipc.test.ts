// Unit: which SysV IPC objects belong to an account, read from /proc/sysvipc tables.
import assert from "node:assert/strict";
import { test } from "node:test";
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
