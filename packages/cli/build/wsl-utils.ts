// Stands in for the wsl-utils package inside the bundle (build/bundle.ts). oclif imports wsl-utils at every start
// only to learn whether it runs under WSL (which changes nothing this CLI does: it names the platform in oclif's
// user agent); loading the package and what it imports (child_process, fs/promises, powershell-utils) costs
// 15-20 ms. The check below is is-wsl's first and main one: WSL kernels name Microsoft in their release.
import { release } from "node:os";

/** Whether this is Linux under Windows' WSL. */
export const isWsl = process.platform === "linux" && release().toLowerCase().includes("microsoft");

/** Only needed by oclif on Windows, where this CLI does not run. */
export function powerShellPath(): Promise<string> {
  return Promise.reject(new Error("jobexec does not run on Windows"));
}
