import { closeSync, fstatSync } from "node:fs";
import { CgexecError, reasonOf } from "./cgexec-error.ts";

/**
 * Check that descriptor `fd` is open, so a wrong N fails (125) before anything happens. Note that
 * Node opens descriptors of its own at start-up (epoll, eventfd, pipes): a small N that the parent
 * did not pass may be one of them, which no check can tell apart.
 */
export function checkStatusFd(fd: number): void {
  try {
    fstatSync(fd);
  } catch (err) {
    throw new CgexecError(125, `--status-fd=${fd}: ${reasonOf(err)}`, { cause: err });
  }
}

/**
 * Close the status fd right before execve, so the target does not inherit it and the reader sees
 * end-of-file with no bytes. (libuv already marks inherited descriptors 3..15 close-on-exec at
 * start-up; a higher N would be inherited without this.)
 */
export function closeStatusFd(fd: number): void {
  try {
    closeSync(fd);
  } catch (err) {
    throw new CgexecError(125, `--status-fd=${fd}: ${reasonOf(err)}`, { cause: err });
  }
}
