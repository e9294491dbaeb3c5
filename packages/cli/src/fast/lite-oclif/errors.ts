// The fast path's stand-ins for @oclif/core/errors (build/fast.ts aliases it here): the two classes the commands
// test errors against.

/** An error with oclif's exit code. */
export class CLIError extends Error {
  oclif: { exit?: number } = {};
}

/** What `this.exit(code)` throws: ends the command with `code`, printing nothing. */
export class ExitError extends CLIError {
  readonly code = "EEXIT";

  constructor(exitCode: number) {
    super(`EEXIT: ${String(exitCode)}`);
    this.oclif = { exit: exitCode };
  }
}
