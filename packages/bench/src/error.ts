/** What went wrong in a benchmark run. */
export type BenchErrorCode =
  /** The server child did not start, did not answer, or did not shut down cleanly. */
  | "server"
  /** A job or a baseline program did not behave as the benchmark needs (failed, wrong output, no output). */
  | "workload"
  /** A figure could not be computed (no samples). */
  | "measurement"
  /** Bad command-line input. */
  | "usage";

/** The one error class of the bench package. */
export class BenchError extends Error {
  override readonly name = "BenchError";
  readonly code: BenchErrorCode;

  constructor(code: BenchErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
