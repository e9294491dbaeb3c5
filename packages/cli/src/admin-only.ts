import { CliError } from "./errors.ts";

/**
 * A PERMISSION_DENIED answer to --all or --owner in the user's words: the server's refusal names its API fields
 * (all_owners, owner); the user typed flags. Any other error is returned as it is.
 */
export async function adminOnly(error: unknown, command: "list" | "queue"): Promise<unknown> {
  const { Code, ConnectError } = await import("./on-demand.ts");
  if (!(error instanceof ConnectError && error.code === Code.PermissionDenied)) return error;
  const what = command === "list" ? "list other users' jobs" : "see other users' queue lines";
  return new CliError("permission-denied", `permission denied: only admins may ${what} (--all, --owner); without them, ${command} shows your own`, { cause: error });
}
