// The fast path's stand-in for @oclif/core/command (build/fast.ts aliases it here): the life cycle of oclif's
// Command (init, run, catch, finally) without its configuration, plugins and parser. `parse` answers from the flag
// table; the fast path runs a command only after that table's parser accepted its words (src/fast/main.ts).
import { ExitError } from "./errors.ts";
import { flagTable } from "../flag-table.ts";
import { parseArgv, type Parsed } from "../parse-argv.ts";

/** The part of oclif's Command the jobexec commands use. */
export abstract class Command {
  static id: string | undefined;
  static flags: Record<string, unknown> | undefined;
  static args: Record<string, unknown> | undefined;
  static strict = true;
  static summary: string | undefined;
  static description: string | undefined;
  static examples: unknown[] | undefined;
  readonly argv: string[];
  id: string | undefined;

  constructor(argv: string[]) {
    this.argv = argv;
    this.id = this.ctor.id;
  }

  get ctor(): typeof Command {
    return this.constructor as typeof Command;
  }

  abstract run(): Promise<unknown>;

  async init(): Promise<void> {}

  async catch(error: Error): Promise<unknown> {
    throw error;
  }

  async finally(_error: Error | undefined): Promise<unknown> {
    return undefined;
  }

  exit(code = 0): never {
    throw new ExitError(code);
  }

  async parse(_command?: unknown, argv: string[] = this.argv): Promise<Parsed> {
    const spec = flagTable()[this.id ?? ""];
    const parsed = spec && parseArgv(spec, argv);
    // main.ts checked these words with the same parser before loading the command.
    if (parsed === undefined) throw new Error(`fast path: cannot parse the arguments of ${this.id ?? "?"}`);
    return parsed;
  }

  /** oclif's Command._run: init and run, catch on failure, finally in any case. */
  async _run(): Promise<unknown> {
    let error: Error | undefined;
    try {
      await this.init();
      return await this.run();
    } catch (caught) {
      error = caught as Error;
      return await this.catch(error);
    } finally {
      await this.finally(error);
    }
  }
}
