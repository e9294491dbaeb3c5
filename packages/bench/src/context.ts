import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { summarizeProfile } from "./profile.ts";
import { startServerProcess, type ServerOptions, type ServerProcess } from "./server-process.ts";
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
 * Runs `body` against a fresh `jobexec-server` child (own data dir `<name>/data` and cgroup parent; `args` are extra
 * server flags), always shutting it down; returns the body's result and, when profiling, the server's top frames.
 */
export async function withServer<T>(
  context: Context,
  name: string,
  body: (server: ServerProcess) => Promise<T>,
  options: Pick<ServerOptions, "args"> = {},
): Promise<{ result: T; profile?: string[] }> {
  const dir = join(context.dir, name);
  await mkdir(dir, { recursive: true });
  const server = await startServerProcess({ dir, tls: context.tls, profile: context.profile, ...options });
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
