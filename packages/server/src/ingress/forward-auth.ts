/**
 * The forward-auth decision the edge asks for on every request to a managed route, websocket
 * handshakes included (`packages/ingress/README.md`, "What the control plane must serve"):
 * - browser routes: the route's own host-only app session (`__Host-gpuaas_app_session`, a
 *   session of its own, never the console's token), obtained by a redirect round trip through
 *   the console's sign-in page and a one-time ticket; no session → 302 to sign-in keeping the URL;
 * - API routes: `Authorization: Bearer` with a platform token or an API key of this endpoint;
 *   never a redirect, never a cookie; 401 with `WWW-Authenticate`;
 * - authenticated callers who are not the route's subjects: 403;
 * - allowed: 200 with `X-Platform-User` and a fresh `X-Platform-Jwt-Assertion`, and nothing of
 *   the caller's credentials echoed.
 */
import {
  APP_SESSION_COOKIE,
  AUTH_CALLBACK_PATH,
  PLATFORM_ASSERTION_HEADER,
  PLATFORM_USER_HEADER,
  type RouteIntent,
} from "@gpuaas/ingress";
import { SESSION_TTL_SECONDS } from "../http/session-cookie.js";
import { authenticateToken, type StoreDb } from "../store/index.js";
import {
  authenticateAppSession,
  authenticateEndpointApiKey,
  createAppSession,
  type IngressPrincipal,
  redeemIngressTicket,
} from "../store/ingress-credentials.js";
import { isSecretOfKind } from "../store/mint-secret.js";
import { getRouteIntent } from "../store/route-intents.js";
import type { IngressRuntime } from "./ingress-runtime.js";
import { mayReachRoute, toSubjectId } from "./route-access.js";

/** The console page that signs a browser in to a route (`?rd=<original URL>`). */
export const SIGN_IN_PATH = "/ingress/sign-in";
/** How long an app session lasts: as long as a console session. */
export const APP_SESSION_TTL_SECONDS = SESSION_TTL_SECONDS;
/** The realm every `WWW-Authenticate` challenge of an API route names. */
export const BEARER_REALM = "gpuaas";

/** What the edge sent about the original request. */
export interface ForwardAuthRequest {
  readonly routeId: string;
  /** The client's `Host` header (the route's public host, perhaps with a port). */
  readonly host: string | undefined;
  /** `X-Forwarded-Uri`: the original path and query. */
  readonly uri: string | undefined;
  readonly cookie: string | undefined;
  readonly authorization: string | undefined;
}

/** The answer the edge turns into the client's response (or lets the request through on). */
export type ForwardAuthDecision =
  | {
      readonly kind: "allow";
      readonly headers: Readonly<Record<string, string>>;
      readonly subject: string;
      readonly routeId: string;
    }
  | {
      readonly kind: "redirect";
      readonly location: string;
      readonly setCookie?: string;
      readonly reason: "sign_in" | "signed_in";
    }
  | {
      readonly kind: "refuse";
      readonly status: 400 | 401 | 403 | 404;
      readonly code:
        | "ingress.unknown_route"
        | "ingress.invalid_redirect"
        | "auth.missing_token"
        | "auth.invalid_token"
        | "auth.forbidden";
      readonly message: string;
      readonly wwwAuthenticate?: string;
    };

const HOST = /^([a-z0-9.-]+)(?::([0-9]{1,5}))?$/;
// A path on the route's own host: never `//host` or `/\host` (browsers read both as another
// host); visible ASCII only, so it is safe in a Location header as it is.
const LOCAL_PATH = /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]{0,4095}$/;

/** True when `value` is a path on the same host, safe to redirect to. */
export function isLocalPath(value: string): boolean {
  return LOCAL_PATH.test(value);
}

/** The value of one cookie in a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The `Set-Cookie` value of an app session: host-only, `__Host-`, Secure, HttpOnly, Lax. */
export function toAppSessionCookie(token: string, maxAgeSeconds: number): string {
  return `${APP_SESSION_COOKIE}=${token}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Lax`;
}

const unknownRoute: ForwardAuthDecision = {
  kind: "refuse",
  status: 404,
  code: "ingress.unknown_route",
  message: "no managed endpoint is served at this host",
};

/** Decides one forward-auth request. */
export async function decideForwardAuth(
  db: StoreDb,
  runtime: IngressRuntime,
  request: ForwardAuthRequest,
  now: Date,
): Promise<ForwardAuthDecision> {
  const route = await getRouteIntent(db, request.routeId);
  const hostMatch = HOST.exec((request.host ?? "").toLowerCase());
  const intent = route?.state === "active" ? route.intent : null;
  if (intent === null || hostMatch === null || hostMatch[1] !== intent.publicHost) {
    return unknownRoute;
  }
  const origin = `${runtime.settings.publicScheme}://${hostMatch[0]}`;
  return intent.clientAuth === "api_bearer"
    ? decideApiRequest(db, runtime, intent, request, now)
    : decideBrowserRequest(db, runtime, intent, request, origin, now);
}

async function decideBrowserRequest(
  db: StoreDb,
  runtime: IngressRuntime,
  intent: RouteIntent,
  request: ForwardAuthRequest,
  origin: string,
  now: Date,
): Promise<ForwardAuthDecision> {
  const uri = request.uri !== undefined && isLocalPath(request.uri) ? request.uri : "/";
  const signIn = (target: string): ForwardAuthDecision => ({
    kind: "redirect",
    location: `${runtime.consoleUrl()}${SIGN_IN_PATH}?rd=${encodeURIComponent(`${origin}${target}`)}`,
    reason: "sign_in",
  });
  const original = new URL(uri, "http://route.invalid");
  if (original.pathname === AUTH_CALLBACK_PATH) {
    const rd = original.searchParams.get("rd") ?? "/";
    if (!isLocalPath(rd)) {
      return {
        kind: "refuse",
        status: 400,
        code: "ingress.invalid_redirect",
        message: "rd must be a path on this host",
      };
    }
    const ticket = original.searchParams.get("ticket") ?? "";
    const redeemed = await redeemIngressTicket(db, {
      plaintext: ticket,
      route_id: intent.routeId,
      now,
    });
    // A used or stale ticket (a reload, a bookmark) starts a fresh round trip.
    if (redeemed === undefined) return signIn(rd);
    const principal: IngressPrincipal = { kind: "user", user: redeemed.user };
    if (!(await mayReachRoute(db, intent, principal))) return forbidden();
    const session = await createAppSession(db, {
      route_id: intent.routeId,
      user_id: redeemed.user.id,
      parent_token_id: redeemed.parent_token_id,
      ttl_ms: APP_SESSION_TTL_SECONDS * 1000,
      now,
    });
    return {
      kind: "redirect",
      location: rd,
      setCookie: toAppSessionCookie(session.plaintext, APP_SESSION_TTL_SECONDS),
      reason: "signed_in",
    };
  }
  const token = readCookie(request.cookie, APP_SESSION_COOKIE);
  const session =
    token === undefined
      ? undefined
      : await authenticateAppSession(db, { plaintext: token, route_id: intent.routeId, now });
  if (session === undefined) return signIn(uri);
  return allowIfSubject(db, runtime, intent, { kind: "user", user: session.user });
}

async function decideApiRequest(
  db: StoreDb,
  runtime: IngressRuntime,
  intent: RouteIntent,
  request: ForwardAuthRequest,
  now: Date,
): Promise<ForwardAuthDecision> {
  const header = request.authorization?.trim() ?? "";
  if (header === "") {
    return {
      kind: "refuse",
      status: 401,
      code: "auth.missing_token",
      message: "send a platform token or an API key of this endpoint as Authorization: Bearer",
      wwwAuthenticate: `Bearer realm="${BEARER_REALM}"`,
    };
  }
  const bearer = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
  let principal: IngressPrincipal | undefined;
  if (bearer !== undefined && isSecretOfKind(bearer, "endpoint_api_key")) {
    principal = (
      await authenticateEndpointApiKey(db, {
        plaintext: bearer,
        instance_id: intent.instanceId,
        endpoint_name: intent.endpointName,
        now,
      })
    )?.principal;
  } else if (bearer !== undefined) {
    principal = await authenticateToken(db, bearer, now);
  }
  if (principal === undefined) {
    return {
      kind: "refuse",
      status: 401,
      code: "auth.invalid_token",
      message: "the bearer token is unknown, revoked, expired, or an API key of another endpoint",
      wwwAuthenticate: `Bearer realm="${BEARER_REALM}", error="invalid_token"`,
    };
  }
  const decision = await allowIfSubject(db, runtime, intent, principal);
  return decision.kind === "refuse"
    ? {
        ...decision,
        wwwAuthenticate: `Bearer realm="${BEARER_REALM}", error="insufficient_scope"`,
      }
    : decision;
}

function forbidden(): ForwardAuthDecision {
  return {
    kind: "refuse",
    status: 403,
    code: "auth.forbidden",
    message:
      "you may not reach this endpoint: it is open to its owner (and, by policy, its project's members) only",
  };
}

async function allowIfSubject(
  db: StoreDb,
  runtime: IngressRuntime,
  intent: RouteIntent,
  principal: IngressPrincipal,
): Promise<ForwardAuthDecision> {
  if (!(await mayReachRoute(db, intent, principal))) return forbidden();
  const subject = toSubjectId(principal);
  const assertion = await runtime.signer.sign({
    issuer: runtime.consoleUrl(),
    subject,
    audience: intent.publicHost,
    routeId: intent.routeId,
  });
  return {
    kind: "allow",
    subject,
    routeId: intent.routeId,
    headers: { [PLATFORM_USER_HEADER]: subject, [PLATFORM_ASSERTION_HEADER]: assertion },
  };
}
