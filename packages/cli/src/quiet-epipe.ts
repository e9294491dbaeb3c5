/**
 * A reader that went away before we finished writing (`jobexec --help | head`): stop quietly with 0, as a program
 * killed by SIGPIPE would, instead of waiting forever for stdout to drain. Commands also abort their calls first.
 */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
  });
}
