// The everyday commands the fast path runs without oclif (src/fast/main.ts); build/fast.ts takes their flag table
// from oclif's definitions of them. Every other command, and every rare use of these, goes through oclif.
import type { Command } from "./lite-oclif/command.ts";

/** A command class, as the fast bundle compiles it (on @oclif/core's stand-ins). */
export type CommandClass = (new (argv: string[]) => Command) & { id: string | undefined };

/** Loaders of the fast path's commands, by id. */
export const fastCommands: Record<string, () => Promise<{ default: unknown }>> = {
  list: () => import("../commands/list.ts"),
  logs: () => import("../commands/logs.ts"),
  rm: () => import("../commands/rm.ts"),
  start: () => import("../commands/start.ts"),
  status: () => import("../commands/status.ts"),
  stop: () => import("../commands/stop.ts"),
  wait: () => import("../commands/wait.ts"),
};
