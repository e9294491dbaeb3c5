// The page's state that belongs in its address: which view, the list's filters, a job's stream and a linked line.
// Links and reloads restore it; nothing else is kept in the address.

/** The job states as the address names them. */
export const stateNames = ["queued", "running", "exited", "stopped", "failed"] as const;
export type StateName = (typeof stateNames)[number];

/** Which output streams the output view shows. */
export type StreamChoice = "both" | "stdout" | "stderr";

/** A place in the app. */
export type Route =
  | { page: "jobs"; states: StateName[]; owner: string }
  | { page: "job"; id: string; stream: StreamChoice; line?: string }
  | { page: "start" }
  | { page: "unknown"; path: string };

const jobId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const lineKey = /^(stdout|stderr):(0|[1-9][0-9]{0,15})$/;

/** The route of an address (path, query and fragment); anything unknown in it is left out. */
export function parseRoute(url: URL): Route {
  const path = url.pathname;
  if (path === "/" || path === "") {
    const states = (url.searchParams.get("state") ?? "")
      .split(",")
      .filter((s): s is StateName => (stateNames as readonly string[]).includes(s));
    return { page: "jobs", states: [...new Set(states)].sort((a, b) => stateNames.indexOf(a) - stateNames.indexOf(b)), owner: url.searchParams.get("owner") ?? "" };
  }
  if (path === "/start") return { page: "start" };
  const match = /^\/jobs\/([^/]+)$/.exec(path);
  if (match !== null && jobId.test(match[1] as string)) {
    const given = url.searchParams.get("stream");
    const stream: StreamChoice = given === "stdout" || given === "stderr" ? given : "both";
    const line = url.hash.slice(1);
    return { page: "job", id: match[1] as string, stream, ...(lineKey.test(line) ? { line } : {}) };
  }
  return { page: "unknown", path };
}

/** The address (path, query and fragment) of a route. */
export function formatRoute(route: Route): string {
  switch (route.page) {
    case "jobs": {
      const query = new URLSearchParams();
      if (route.states.length > 0) query.set("state", route.states.join(","));
      if (route.owner !== "") query.set("owner", route.owner);
      const q = query.toString();
      return q === "" ? "/" : `/?${q}`;
    }
    case "job":
      return `/jobs/${route.id}${route.stream === "both" ? "" : `?stream=${route.stream}`}${route.line === undefined ? "" : `#${route.line}`}`;
    case "start":
      return "/start";
    case "unknown":
      return route.path;
  }
}

/** A linked line: its stream and byte offset. */
export function parseLineKey(key: string): { stream: "stdout" | "stderr"; offset: number } | undefined {
  const match = lineKey.exec(key);
  return match === null ? undefined : { stream: match[1] as "stdout" | "stderr", offset: Number(match[2]) };
}
