// A queued job whose admission was stored but whose start was not: the server died between the two.
import { isPopulated, removeCgroup } from "../cgroup/cgroup-fs.ts";
import { readUsage } from "../cgroup/usage.ts";
import { removeOutput } from "../output/output-files.ts";
import type { JobRecord } from "./job-record.ts";
import { pathExists } from "../path-exists.ts";


/**
 * Decides what a restored admitted-but-not-started record (state "running", no start time, its request still kept)
 * is, proving rather than guessing: it is queued again only when nothing shows that it ran, that is when its output
 * directory (made before the spawn) is missing, or when its cgroup (joined before the exec) holds no process and was
 * never charged CPU time; what was made for it is then removed. Otherwise it ran: its start time becomes now
 * (approximate) and adoption takes it over, running or ended. Unconfined, a job with an output directory is left to
 * adoption as it is (recorded failed: nothing can tell whether it ran). Never starts a job twice.
 */
export async function settleUnstarted(record: JobRecord): Promise<"queued" | "adopt"> {
  const { cgroupDir } = record;
  if (await pathExists(record.dir)) {
    if (cgroupDir === undefined) return "adopt";
    if ((await isPopulated(cgroupDir)) || (await pathExists(cgroupDir) && (await readUsage(cgroupDir, [])).cpuUsageUsec > 0)) {
      record.startedAt = new Date();
      return "adopt";
    }
    await removeCgroup(cgroupDir);
    await removeOutput(record.dir);
  }
  record.state = "queued";
  record.cgroupDir = undefined;
  return "queued";
}
