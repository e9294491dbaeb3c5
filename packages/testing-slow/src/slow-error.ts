/**
 * The one error slow raises: a bad command line. `code` is the exit status (2, as for a usage
 * error of most Unix tools); `message` is the line printed before the usage text.
 */
export class SlowError extends Error {
  override name = "SlowError";
  readonly code = 2;
}
