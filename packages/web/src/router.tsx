/**
 * A small history-API router: the control plane answers every non-API path with index.html, so
 * each page has a real URL that survives a reload and can be shared.
 */
import { type AnchorHTMLAttributes, type MouseEvent, useEffect, useState } from "react";

/** A matched route: the page and its path parameters. */
export type Route =
  | { readonly page: "catalog" }
  | { readonly page: "app"; readonly slug: string }
  | { readonly page: "launch"; readonly slug: string }
  | { readonly page: "instances" }
  | { readonly page: "instance"; readonly instanceId: string; readonly tab: InstanceTab }
  | { readonly page: "sign-in" }
  | { readonly page: "ingress-sign-in" }
  | { readonly page: "not-found" };

/** The tabs of an instance page, each with its own URL. */
export const INSTANCE_TABS = ["overview", "events", "access", "logs"] as const;
export type InstanceTab = (typeof INSTANCE_TABS)[number];

/** Parses a pathname into a route. */
export function parseRoute(pathname: string): Route {
  const parts = pathname
    .split("/")
    .filter((part) => part.length > 0)
    .map((part) => decodeURIComponent(part));
  const [first, second, third, fourth] = parts;
  if (parts.length === 0) return { page: "catalog" };
  if (first === "sign-in" && parts.length === 1) return { page: "sign-in" };
  if (first === "ingress" && second === "sign-in" && parts.length === 2)
    return { page: "ingress-sign-in" };
  if (first === "catalog") {
    if (second === undefined) return { page: "catalog" };
    if (third === undefined) return { page: "app", slug: second };
    if (third === "launch" && fourth === undefined) return { page: "launch", slug: second };
  }
  if (first === "instances") {
    if (second === undefined) return { page: "instances" };
    const tab = (third ?? "overview") as InstanceTab;
    if (INSTANCE_TABS.includes(tab) && fourth === undefined)
      return { page: "instance", instanceId: second, tab };
  }
  return { page: "not-found" };
}

const listeners = new Set<() => void>();

/** Moves to another page of the console without a reload. */
export function navigate(to: string, options: { readonly replace?: boolean } = {}): void {
  if (options.replace === true) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  for (const listener of listeners) listener();
  window.scrollTo(0, 0);
}

function readLocation(): { readonly pathname: string; readonly search: string } {
  return { pathname: window.location.pathname, search: window.location.search };
}

/** The current location; re-renders on navigation and on back/forward. */
export function useLocation(): { readonly pathname: string; readonly search: string } {
  const [location, setLocation] = useState(readLocation);
  useEffect(() => {
    const update = () => setLocation(readLocation());
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return location;
}

/** An anchor that navigates inside the console (modifier clicks still open a new tab). */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { readonly href: string }) {
  const { onClick, href, children, ...rest } = props;
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (
      event.defaultPrevented ||
      event.button !== 0 ||
      event.metaKey ||
      event.ctrlKey ||
      event.shiftKey ||
      event.altKey
    )
      return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a {...rest} href={href} onClick={handle}>
      {children}
    </a>
  );
}
