import { signal } from "@preact/signals";
import { formatRoute, parseRoute, type Route } from "./url-state.ts";

/** Where the page is; follows the address (back and forward included). */
export const route = signal<Route>(parseRoute(new URL(location.href)));

addEventListener("popstate", () => {
  route.value = parseRoute(new URL(location.href));
});

/** Goes to a route: a new history entry, or (`replace`) the current one changed, e.g. a filter. */
export function navigate(to: Route, { replace = false }: { replace?: boolean } = {}): void {
  const address = formatRoute(to);
  if (replace) history.replaceState(null, "", address);
  else history.pushState(null, "", address);
  route.value = parseRoute(new URL(location.href));
}
