/**
 * Node ignores SIGPIPE and SIGXFSZ for itself, and an ignored signal stays ignored across
 * execve(2): a target would then never die of a closed pipe (`yes | head -1` would spin). A
 * program spawned by Node (libuv) gets every signal at its default; do the same here.
 */
export function restoreDefaultSignals(): void {
  const noop = (): void => undefined;
  for (const signal of ["SIGPIPE", "SIGXFSZ"] as const) {
    // Removing the last listener makes libuv put the disposition back to SIG_DFL, synchronously.
    process.on(signal, noop).off(signal, noop);
  }
}
