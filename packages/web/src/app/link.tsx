import type { ComponentChildren } from "preact";
import { navigate } from "./router.ts";
import { formatRoute, type Route } from "./url-state.ts";

/** A link within the app: a real href (open in a new tab works), navigated in place on a plain click. */
export function Link({ to, class: className, children }: { to: Route; class?: string; children: ComponentChildren }) {
  return (
    <a
      href={formatRoute(to)}
      class={className}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
