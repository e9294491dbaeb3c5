import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { summarizeProfile } from "./profile.ts";
import { startServerProcess, type ServerProcess } from "./server-process.ts";
import type { Sizes } from "./sizes.ts";
import type { Tls } from "./tls.ts";

/** What every benchmark gets: a scratch directory, TLS material, the sizes, and where to say what it is doing. */
export interface Context {
  dir: string;
  tls: Tls;
  sizes: Sizes;
  /** Profile each server child and summarise its top frames in the section. */
  profile: boolean;
  progress(message: string): void;
}

/**
 * Runs `body` against a fresh `jobexec-server` child (own data dir and cgroup parent), always shutting it down;
 * returns the body's result and, when profiling, the server's top frames. Its directory is `<parent>/<name>`, the
 * run's scratch directory unless given (a server whose jobs get a private /tmp needs one outside /tmp).
 */
export async function withServer<T>(
  context: Context,
  name: string,
  body: (server: ServerProcess) => Promise<T>,
  args: readonly string[] = [],
  parent: string = context.dir,
): Promise<{ result: T; profile?: string[] }> {
  const dir = join(parent, name);
  // Searchable by others (the run's temp dir is too): jobs' dynamic accounts pass through to their homes.
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const server = await startServerProcess({ dir, tls: context.tls, profile: context.profile, args });
  context.progress(`${name}: jobexec-server pid ${server.pid} at ${server.url}`);
  let result: T;
  try {
    result = await body(server);
  } catch (error) {
    await server.close().catch(() => undefined);
    throw error;
  }
  const profilePath = await server.close();
  return profilePath === undefined ? { result } : { result, profile: await summarizeProfile(profilePath) };
}
