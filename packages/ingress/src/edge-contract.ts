/**
 * The contract between the platform edge (whichever proxy renders the route intents) and the
 * control plane's forward-auth endpoint. Renderers and the server both read these constants, so
 * the header the edge copies is the header the server sets.
 *
 * Forward-auth request (edge → control plane), one per client request, websocket handshakes
 * included: `GET <auth path>?route=<routeId>` carrying the client's `Host`, `Cookie` and
 * `Authorization` plus `X-Forwarded-Method` and `X-Forwarded-Uri` (the original method and
 * request URI). Replies the edge understands:
 * - `2xx` with every header of {@link IDENTITY_HEADERS}: allowed; the edge sets them upstream.
 * - `302` (browser routes only) to the sign-in page with the original URL kept, or to the
 *   original URL with `Set-Cookie` after the {@link AUTH_CALLBACK_PATH} round trip.
 * - `401` with `WWW-Authenticate: Bearer …` (API routes: never a redirect, never a cookie).
 * - `403`: authenticated, but not one of the route's subjects.
 * Any other reply is passed to the client as it is, so the edge fails closed.
 */

/** The user the platform authenticated (its stable user id), set by the edge after auth. */
export const PLATFORM_USER_HEADER = "X-Platform-User";
/** A short-lived JWT signed by the platform (audience = the public host), set after auth. */
export const PLATFORM_ASSERTION_HEADER = "X-Platform-Jwt-Assertion";
/** Headers only the edge may set: removed from every client request before auth. */
export const IDENTITY_HEADERS: readonly string[] = [
  PLATFORM_USER_HEADER,
  PLATFORM_ASSERTION_HEADER,
];
/** The original request's method, added by the edge to the forward-auth request. */
export const FORWARDED_METHOD_HEADER = "X-Forwarded-Method";
/** The original request URI (path and query), added by the edge to the forward-auth request. */
export const FORWARDED_URI_HEADER = "X-Forwarded-Uri";
/** Query parameter of the forward-auth request naming the route the request matched. */
export const FORWARD_AUTH_ROUTE_PARAMETER = "route";

/**
 * The platform session of a browser route, on the route's own host: host-only (no `Domain`),
 * `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/` (the `__Host-` prefix makes browsers enforce
 * it). It is a session of its own for that host, never the console's token, and it never reaches
 * the workload.
 */
export const APP_SESSION_COOKIE = "__Host-gpuaas_app_session";
/** The console's session cookie; host-only on the console, stripped towards workloads all the same. */
export const CONSOLE_SESSION_COOKIE = "gpuaas_session";
/** Platform cookies removed from every request towards a workload. */
export const PLATFORM_COOKIES: readonly string[] = [APP_SESSION_COOKIE, CONSOLE_SESSION_COOKIE];

/** Default path of the control plane's forward-auth endpoint. */
export const FORWARD_AUTH_PATH = "/api/v1/ingress/forward-auth";

/**
 * Path reserved on every browser route host for the sign-in round trip: the console redirects
 * here with a one-time ticket; the forward-auth endpoint answers 302 to the original path with
 * the session cookie set on the route's own host. The edge forwards it like any other request.
 */
export const AUTH_CALLBACK_PATH = "/.gpuaas/session";

/** Prefix of the group naming a project's members in {@link RouteSubjects}. */
export const PROJECT_GROUP_PREFIX = "project:";

/** The header names a client could send that a CGI/WSGI-style app would read as `name`. */
export function toUnderscoreVariants(names: readonly string[]): string[] {
  return names.map((name) => name.replaceAll("-", "_"));
}
