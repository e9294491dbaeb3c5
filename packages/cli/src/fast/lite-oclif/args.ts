// The fast path's stand-in for @oclif/core/args (build/fast.ts aliases it here); see flags.ts.

/** A string argument. */
export const string = (options: Record<string, unknown> = {}): Record<string, unknown> => ({ ...options });
