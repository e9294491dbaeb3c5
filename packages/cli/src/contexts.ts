import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configDir } from "./credentials.ts";
import { CliError } from "./errors.ts";

/** A named set of connection settings: a server and the credentials for it (as kubectl's and docker's contexts). */
export interface Context {
  name: string;
  /** HOST:PORT of the server. */
  server: string;
  /** Absolute paths; an absent one takes the default file of the config directory. */
  cert?: string;
  key?: string;
  ca?: string;
}

/** The contexts file, `contexts.json` in the config directory (mode 0600). */
export interface ContextsFile {
  /** The context used when neither --context nor JOBEXEC_CONTEXT names one; absent: none (the defaults). */
  currentContext?: string;
  contexts: Context[];
}

/** The name that means "no context": the flags, the environment and the built-in defaults (as docker's). */
export const DEFAULT_CONTEXT = "default";

/** A valid context name, or a usage CliError. */
export function checkContextName(name: string): string {
  if (name === DEFAULT_CONTEXT) throw new CliError("usage", `"${DEFAULT_CONTEXT}" is the name of no context (the flags, environment and defaults); choose another name`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) throw new CliError("usage", `context name ${JSON.stringify(name)} is not valid; use letters, digits and . _ - (at most 63, starting with a letter or digit)`);
  return name;
}

/** Where the contexts are stored. */
export function contextsPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "contexts.json");
}

/** The connection settings a context holds. */
export const settingNames = ["server", "cert", "key", "ca"] as const;

/** Reads the contexts file; a missing file is no contexts. A malformed one is a CliError with one sentence. */
export function readContexts(env: NodeJS.ProcessEnv = process.env): ContextsFile {
  const path = contextsPath(env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { contexts: [] };
    throw new CliError("config", `cannot read the contexts file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  const bad = (why: string, cause?: unknown): CliError =>
    new CliError("config", `the contexts file ${path} is malformed: ${why}; fix it, or remove it and add the contexts again with \`jobexec context add\``, { cause });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw bad((error as Error).message, error);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw bad("it is not a JSON object");
  const { currentContext, contexts } = data as Record<string, unknown>;
  if (currentContext !== undefined && typeof currentContext !== "string") throw bad('"currentContext" is not a string');
  if (!Array.isArray(contexts)) throw bad('"contexts" is not a list');
  const seen = new Set<string>();
  const parsed = contexts.map((entry: unknown, i): Context => {
    if (typeof entry !== "object" || entry === null) throw bad(`context ${i + 1} is not an object`);
    const fields = entry as Record<string, unknown>;
    if (typeof fields.name !== "string" || fields.name === "") throw bad(`context ${i + 1} has no "name"`);
    if (seen.has(fields.name)) throw bad(`context "${fields.name}" appears twice`);
    seen.add(fields.name);
    for (const key of settingNames) {
      if (fields[key] !== undefined && typeof fields[key] !== "string") throw bad(`"${key}" of context "${fields.name}" is not a string`);
    }
    if (fields.server === undefined) throw bad(`context "${fields.name}" has no "server"`);
    const context: Context = { name: fields.name, server: fields.server as string };
    for (const key of ["cert", "key", "ca"] as const) if (fields[key] !== undefined) context[key] = fields[key] as string;
    return context;
  });
  return { ...(currentContext === undefined ? {} : { currentContext }), contexts: parsed };
}

/** Writes the contexts file atomically with mode 0600 (it names key files), creating the config directory. */
export function writeContexts(file: ContextsFile, env: NodeJS.ProcessEnv = process.env): void {
  const path = contextsPath(env);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(configDir(env), { recursive: true, mode: 0o700 });
    writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new CliError("config", `cannot write the contexts file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
}

/** The connection settings as given on the command line (flags, with their environment variables applied). */
export interface GivenSettings {
  context?: string | undefined;
  server?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
}

/** The settings a command connects with, and the context they partly came from. */
export interface ResolvedSettings {
  server?: string;
  cert?: string;
  key?: string;
  ca?: string;
  /** The context that supplied settings, and which, for error messages. */
  context?: Context;
  fromContext: (typeof settingNames)[number][];
}

/**
 * Applies the precedence flag > environment > context > defaults: each setting given by a flag or its variable is
 * kept, the others come from the context named by --context / JOBEXEC_CONTEXT, else the current one. Settings still
 * unset take the built-in defaults later (server 127.0.0.1:50051, files in the config directory).
 */
export function resolveSettings(given: GivenSettings, env: NodeJS.ProcessEnv = process.env): ResolvedSettings {
  const named = given.context;
  if (named === DEFAULT_CONTEXT) return withoutContext(given);
  const file = readContexts(env);
  const name = named ?? file.currentContext;
  if (name === undefined || name === DEFAULT_CONTEXT) return withoutContext(given);
  const context = file.contexts.find((c) => c.name === name);
  if (context === undefined) {
    const how = named === undefined ? `the current context in ${contextsPath(env)}` : "--context or JOBEXEC_CONTEXT";
    throw new CliError("usage", `no context "${name}" (named by ${how}); \`jobexec context list\` shows the contexts`);
  }
  const resolved: ResolvedSettings = { context, fromContext: [] };
  for (const key of settingNames) {
    if (given[key] !== undefined) resolved[key] = given[key];
    else if (context[key] !== undefined) {
      resolved[key] = context[key];
      resolved.fromContext.push(key);
    }
  }
  return resolved;
}

function withoutContext(given: GivenSettings): ResolvedSettings {
  const resolved: ResolvedSettings = { fromContext: [] };
  for (const key of settingNames) if (given[key] !== undefined) resolved[key] = given[key];
  return resolved;
}
