import { join } from "node:path";
import { DEFAULT_CONTEXT, resolveSettings, type GivenSettings, type settingNames } from "./contexts.ts";
import { configDir } from "./credentials.ts";
import { defaultPort } from "./server-address.ts";

/** The name of a connection setting. */
export type SettingName = (typeof settingNames)[number];

/** A setting's value and where it came from, as messages name it: `--server`, `JOBEXEC_SERVER`, `context "ci"` or `default`. */
export interface SettingValue {
  value: string;
  origin: string;
}

/** What a command connects with, each setting with its origin. */
export interface EffectiveSettings {
  /** The context in use, and what named it (`--context`, `JOBEXEC_CONTEXT`, `current context`); absent: none. */
  context?: SettingValue;
  server: SettingValue;
  cert: SettingValue;
  key: SettingValue;
  ca: SettingValue;
  /** The settings the context gave. */
  fromContext: SettingName[];
}

const variables: Record<SettingName | "context", string> = {
  context: "JOBEXEC_CONTEXT",
  server: "JOBEXEC_SERVER",
  cert: "JOBEXEC_CERT",
  key: "JOBEXEC_KEY",
  ca: "JOBEXEC_CA",
};

const defaultFiles: Record<Exclude<SettingName, "server">, string> = { cert: "client.pem", key: "client.key", ca: "ca.pem" };

/** Whether `argv` (a command's own words, before any `--`) sets `--NAME`. */
function onCommandLine(argv: readonly string[], name: string): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((word) => word === `--${name}` || word.startsWith(`--${name}=`));
}

/**
 * Resolves the connection settings (flag > environment variable > context > default, see contexts.ts) and says
 * where each came from: oclif hands a flag and its variable over as one value, so the command line tells them apart.
 */
export function effectiveSettings(given: GivenSettings, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): EffectiveSettings {
  const resolved = resolveSettings(given, env);
  const origin = (name: SettingName | "context"): string => (onCommandLine(argv, name) ? `--${name}` : variables[name]);
  const contextName = resolved.context?.name;
  const fromContext = `context "${contextName ?? ""}"`;
  const setting = (name: SettingName, fallback: string): SettingValue => {
    const value = resolved[name];
    if (value === undefined) return { value: fallback, origin: "default" };
    return { value, origin: resolved.fromContext.includes(name) ? fromContext : origin(name) };
  };
  const dir = configDir(env);
  const effective: EffectiveSettings = {
    server: setting("server", `127.0.0.1:${defaultPort}`),
    cert: setting("cert", join(dir, defaultFiles.cert)),
    key: setting("key", join(dir, defaultFiles.key)),
    ca: setting("ca", join(dir, defaultFiles.ca)),
    fromContext: resolved.fromContext,
  };
  if (contextName !== undefined) {
    effective.context = { value: contextName, origin: given.context !== undefined && given.context !== DEFAULT_CONTEXT ? origin("context") : "current context" };
  }
  return effective;
}

/** "from --server", "from JOBEXEC_SERVER", "from context \"ci\"", "the default": how messages name an origin. */
export function describeOrigin(setting: SettingValue): string {
  return setting.origin === "default" ? "the default" : `from ${setting.origin}`;
}
