// The page's session with `jobexec ui`: the one-time code in the address (put there by the command) is swapped for
// the session token once, and removed from the address bar at once. The token is kept in sessionStorage (this tab
// only, gone with it) so that a reload keeps working; it is never put in a cookie, which any port of this host
// would share.

/** What the page holds of its session. */
export interface Session {
  token: string;
  /** The console forwards reads only (jobexec ui --read-only). */
  readOnly: boolean;
}

const storageKey = "jobexec-session";

function stored(): Session | undefined {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(storageKey) ?? "null");
    if (typeof value === "object" && value !== null && typeof (value as Session).token === "string") return value as Session;
  } catch {
    // Not ours: start without a session.
  }
  return undefined;
}

/** The session: from the one-time code in the address, else from this tab's storage; a message when there is none. */
export async function openSession(): Promise<Session | { error: string }> {
  const match = /^#code=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (match !== null) {
    history.replaceState(history.state, "", `${location.pathname}${location.search}`);
    const response = await fetch("/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: match[1] }),
      credentials: "omit",
    });
    if (response.ok) {
      const session = (await response.json()) as Session;
      sessionStorage.setItem(storageKey, JSON.stringify(session));
      return session;
    }
    const had = stored();
    if (had !== undefined) return had;
    return { error: "This link's one-time code was already used. Each run of `jobexec ui` opens the browser once: run it again for a new link." };
  }
  return stored() ?? { error: "This page has no session. Open the console with `jobexec ui`, which opens your browser on a link with a one-time code." };
}

/** Forgets the session (it was refused: the `jobexec ui` that made it has ended). */
export function dropSession(): void {
  sessionStorage.removeItem(storageKey);
}
