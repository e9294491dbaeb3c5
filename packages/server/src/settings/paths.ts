import { homedir } from "node:os";
import { join } from "node:path";

type Env = Record<string, string | undefined>;

/**
 * The certificate directory, shared with the CLI:
 * `$JOBEXEC_CONFIG_DIR`, else `${XDG_CONFIG_HOME:-$HOME/.config}/jobexec`.
 */
export function defaultConfigDir(env: Env = process.env): string {
  if (env.JOBEXEC_CONFIG_DIR) return env.JOBEXEC_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "jobexec");
}

/** Where jobs' records and output live: `/var/lib/jobexec` for root, else `${XDG_STATE_HOME:-~/.local/state}/jobexec`. */
export function defaultDataDir(env: Env = process.env, uid: number = process.getuid?.() ?? -1): string {
  if (uid === 0) return "/var/lib/jobexec";
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), ".local", "state"), "jobexec");
}
