import { Command } from "@oclif/core/command";
import * as Errors from "@oclif/core/errors";
import * as Flags from "@oclif/core/flags";
import { clientCertificateProblem } from "./client-certificate.ts";
import type { Connection } from "./connection.ts";
import type { GivenSettings } from "./contexts.ts";
import { readCredentials, type Credentials } from "./credentials.ts";
import { CliError, exitCodeOf } from "./errors.ts";
import { defaultPort, serverUrl } from "./server-address.ts";
import { effectiveSettings, type EffectiveSettings } from "./settings-origin.ts";
import { dialer } from "./tls-dialer.ts";
import { usageError } from "./usage-error.ts";
import { visible } from "./visible.ts";

/** The connection flags every command that talks to the server takes. */
export const connectionFlags = {
  server: Flags.string({
    env: "JOBEXEC_SERVER",
    summary: `Server address, HOST:PORT; a HOST alone means port ${defaultPort}. Default: the context's, else 127.0.0.1:${defaultPort}.`,
    helpGroup: "CONNECTION",
  }),
  cert: Flags.string({
    env: "JOBEXEC_CERT",
    summary: "Client certificate (PEM). Default: the context's, else client.pem in the config directory.",
    helpGroup: "CONNECTION",
  }),
  key: Flags.string({
    env: "JOBEXEC_KEY",
    summary: "Client private key (PEM). Default: the context's, else client.key in the config directory.",
    helpGroup: "CONNECTION",
  }),
  ca: Flags.string({
    env: "JOBEXEC_CA",
    summary: "CA certificate that signed the server's certificate (PEM). Default: the context's, else ca.pem in the config directory.",
    helpGroup: "CONNECTION",
  }),
  context: Flags.string({
    env: "JOBEXEC_CONTEXT",
    summary: "Connection context to use (`jobexec context list`); its settings fill in what the flags above leave unset. Default: the current context.",
    helpGroup: "CONNECTION",
  }),
};

/** The --json flag of commands that print data. */
export const jsonFlag = {
  json: Flags.boolean({ summary: "Print machine-readable JSON (shapes in JSON.md).", default: false }),
};

/** Text appended to every command's help: where credentials come from and what the exit codes mean. */
export const commonHelp = `Connection settings: each flag, else its environment variable, else the context (--context, JOBEXEC_CONTEXT, else the current one of \`jobexec context use\`), else the default. Credentials default to client.pem, client.key and ca.pem in $JOBEXEC_CONFIG_DIR, else $XDG_CONFIG_HOME/jobexec, else ~/.config/jobexec; on Windows %APPDATA%\\jobexec (where \`jobexec-server certs init\` writes them).

Exit codes: 0 success; 1 failure (server unreachable, TLS refused, job not found, permission denied, request refused); 2 usage error (nothing was sent); 126 the job was made but failed to start (the reason is on stderr); 130 interrupted by Ctrl-C; with --follow, the job's own exit code (128 + signal number when a signal killed it).`;

// Modules that pull in Connect and protobuf (connection.ts, error-message.ts, and in the commands everything that
// touches messages) are imported when first needed, so that --help and usage errors answer without loading them.

/**
 * The base of every jobexec command: connects with mutual TLS, turns Ctrl-C into a cancelled call and exit 130,
 * and reports every failure as one line on stderr with a documented exit code.
 */
export abstract class JobexecCommand extends Command {
  /** Aborted on Ctrl-C (or when stdout goes away): pass it to every call so the server releases the call too. */
  protected readonly abort = new AbortController();
  /** The job the command is about, for error messages. */
  protected jobId: string | undefined;
  private connection: Connection | undefined;
  private credentials: Credentials | undefined;
  private server = "";
  private settings: EffectiveSettings | undefined;
  private interrupted = false;
  /** Printed on stderr when Ctrl-C ends the command (e.g. which job keeps running). */
  protected interruptNote: string | undefined;

  private readonly onSigint = (): void => {
    // A second Ctrl-C while the first is being handled leaves at once.
    if (this.interrupted) process.exit(130);
    this.interrupted = true;
    this.abort.abort();
  };

  // A reader that went away (`jobexec logs ID | head`, EPIPE) ends the process quietly with 0 (src/main.ts); any
  // other failure of stdout cancels the call.
  private readonly onStdoutError = (): void => {
    this.abort.abort();
  };

  override async init(): Promise<void> {
    await super.init();
    process.on("SIGINT", this.onSigint);
    process.stdout.on("error", this.onStdoutError);
  }

  /**
   * The JobService client for the connection flags: each setting from its flag, else its environment variable,
   * else the context, else the default. Reads the credentials on first use.
   */
  protected async connect(flags: GivenSettings): Promise<Connection> {
    if (this.connection === undefined) {
      const settings = this.effectiveSettings(flags);
      const url = serverUrl(settings.server.value);
      const context = settings.context && { name: settings.context.value, keys: settings.fromContext };
      this.server = context?.keys.includes("server") ? `${url.host} (context ${context.name})` : url.host;
      const given = (name: "cert" | "key" | "ca"): string | undefined => (settings[name].origin === "default" ? undefined : settings[name].value);
      const origins = { cert: settings.cert.origin, key: settings.key.origin, ca: settings.ca.origin };
      this.credentials = readCredentials({ cert: given("cert"), key: given("key"), ca: given("ca"), context, origins });
      const socket = dialer(url, this.credentials);
      const { connect } = await import("./connection.ts");
      this.connection = connect(url, socket);
    }
    return this.connection;
  }

  /** Drops the connection (a server that went away) so that the next connect() dials a new one. */
  protected disconnect(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  /** The connection settings of the flags, each with where it came from (flag, variable, context, default). */
  protected effectiveSettings(flags: GivenSettings): EffectiveSettings {
    this.settings ??= effectiveSettings(flags, this.argv);
    return this.settings;
  }

  /** A failed call as the sentence the user sees, naming the server (and its context) and the job. */
  protected async describe(error: unknown, jobId: string | undefined): Promise<CliError> {
    // A failed socket (TLS refusal, reset) explains a failed call better than the call's own error.
    const connection = this.connection;
    const { describeError } = await import("./error-message.ts");
    return describeError(connection?.socketError() ?? error, {
      server: this.server,
      jobId,
      hungUpAfterHandshake: connection?.hungUpAfterHandshake(),
      handshakeDone: connection?.handshakeDone(),
      settings: this.settings,
      certificateProblem: () => (this.credentials === undefined ? undefined : clientCertificateProblem(this.credentials)),
    });
  }

  /**
   * Prints a failure as the one `jobexec: ...` line on stderr. Messages quote the server and our arguments (job
   * commands, paths, names), so their control characters are made visible.
   */
  protected printError(failure: CliError): void {
    process.stderr.write(`jobexec: ${visible(failure.message)}\n`);
  }

  /** Prints a value as JSON on stdout. */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Exits with `code` once the command is done (stdout and stderr are flushed by then). */
  protected setExitCode(code: number): void {
    process.exitCode = code;
  }

  override async catch(error: Error & { oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error;
    if (this.interrupted) {
      if (this.interruptNote !== undefined) process.stderr.write(`jobexec: ${this.interruptNote}\n`);
      this.exit(130);
    }
    let failure: CliError;
    if (error instanceof CliError) {
      failure = error;
    } else if (error instanceof Errors.CLIError && error.oclif?.exit === 2) {
      // oclif's own parse errors: one line in our style (usage-error.ts).
      failure = usageError(error, { id: this.id ?? "", flags: this.ctor.flags ?? {}, args: this.ctor.args ?? {} });
    } else {
      failure = await this.describe(error, this.jobId);
    }
    this.printError(failure);
    this.exit(exitCodeOf(failure.code));
  }

  override async finally(error: Error | undefined): Promise<unknown> {
    // The stdout error listener stays: writes still queued may fail after this point and must not crash.
    process.off("SIGINT", this.onSigint);
    this.connection?.close();
    return super.finally(error);
  }
}
