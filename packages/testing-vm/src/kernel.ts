import { accessSync, constants, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** A kernel the VM can boot: its image and the directory of its modules. */
export interface Kernel {
  version: string;
  image: string;
  modulesDir: string;
}

/**
 * Finds the kernel to boot: $JOBEXEC_VM_KERNEL (an image path, its version taken from the name
 * "vmlinuz-VERSION"), else the newest /boot/vmlinuz-VERSION that has /lib/modules/VERSION/modules.dep.
 * The host's own kernel is not required: any distribution kernel with virtio and 9p modules works.
 * When there is none, returns the reason instead.
 */
export function findKernel(env: NodeJS.ProcessEnv = process.env): Kernel | { missing: string } {
  const chosen = env.JOBEXEC_VM_KERNEL;
  const candidates = chosen
    ? [chosen]
    : listBoot()
        .filter((name) => name.startsWith("vmlinuz-"))
        .sort(compareVersions)
        .reverse()
        .map((name) => join("/boot", name));
  for (const image of candidates) {
    const version = image.slice(image.lastIndexOf("vmlinuz-") + "vmlinuz-".length);
    const modulesDir = join("/lib/modules", version);
    if (!existsSync(join(modulesDir, "modules.dep"))) continue;
    try {
      accessSync(image, constants.R_OK);
    } catch {
      // Ubuntu keeps kernel images readable by root only: say so rather than "no kernel".
      return { missing: `${image} is not readable by this user (run as root, or chmod o+r it)` };
    }
    return { version, image, modulesDir };
  }
  return { missing: chosen ? `no /lib/modules for ${chosen}` : "no /boot/vmlinuz-* with modules" };
}

function listBoot(): string[] {
  try {
    return readdirSync("/boot");
  } catch {
    return [];
  }
}

/** Orders "vmlinuz-6.1.0-9-amd64" before "vmlinuz-6.1.0-10-amd64": numbers compare as numbers. */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}
