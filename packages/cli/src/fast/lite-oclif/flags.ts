// The fast path's stand-in for @oclif/core/flags (build/fast.ts aliases it here). The commands' flag definitions are
// evaluated but unused: the fast path parses with the table oclif's real definitions gave at build time.

type Definition = Record<string, unknown>;

/** A flag with a value. */
export const string = (options: Definition = {}): Definition => ({ ...options, type: "option" });
/** An integer flag. */
export const integer = string;
/** A boolean flag. */
export const boolean = (options: Definition = {}): Definition => ({ ...options, type: "boolean" });
