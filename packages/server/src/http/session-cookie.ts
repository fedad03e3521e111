import type { FastifyRequest } from "fastify";

/** The cookie holding a browser session's token (a token of its own, never the user's). */
export const SESSION_COOKIE = "gpuaas_session";
/** How long a browser session lasts. */
export const SESSION_TTL_SECONDS = 12 * 60 * 60;
/** The header a browser must add to every state-changing request made with the session cookie. */
export const CSRF_HEADER = "x-gpuaas-csrf";

/** The session token from the request's Cookie header, if any. */
export function readSessionCookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== "string") return undefined;
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === SESSION_COOKIE && rest.length > 0) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

/** The Set-Cookie value that stores a session: HttpOnly, SameSite=Strict, for the whole origin. */
export function toSessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${encodeURIComponent(token)}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${maxAgeSeconds}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}
