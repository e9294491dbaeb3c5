// The flags and arguments of the fast path's commands, taken from oclif's own definitions of them at build time
// (build/fast.ts) and compiled into dist/fast.cjs: oclif stays the one place where flags are defined.

/** One flag of a command, as oclif defines it, reduced to what the fast path's parser implements. */
export interface FlagSpec {
  name: string;
  char?: string;
  type: "boolean" | "option";
  /** Repeatable, one value per occurrence (oclif's `multiple` with `multipleNonGreedy`). */
  multiple?: true;
  /** The values it accepts. */
  options?: string[];
  default?: string | boolean;
  /** The environment variable that gives it a value when the command line does not. */
  env?: string;
  /** A boolean that also takes `--no-NAME`. */
  allowNo?: true;
  /** Parsed as an integer (oclif's `Flags.integer`), within these bounds. */
  integer?: { min?: number; max?: number };
  /** Flags it cannot be given with. */
  exclusive?: string[];
  /** A feature of oclif's the fast path does not implement (aliases, a custom parse, ...): given, oclif runs. */
  unsupported?: string;
}

/** One command's arguments and flags. */
export interface CommandSpec {
  /** Whether oclif refuses arguments beyond the named ones. */
  strict: boolean;
  args: { name: string; required: boolean }[];
  flags: Record<string, FlagSpec>;
}

/** The fast path's commands by id. */
export type FlagTable = Record<string, CommandSpec>;

/** Replaced by the table when build/fast.ts bundles dist/fast.cjs. */
declare const JOBEXEC_FLAG_TABLE: FlagTable;

/** The table compiled into dist/fast.cjs (only there: elsewhere it does not exist). */
export function flagTable(): FlagTable {
  return JOBEXEC_FLAG_TABLE;
}
