// STAND-IN for the control plane's forward-auth endpoint, which the server will serve. It
// implements the contract in src/edge-contract.ts with fixed sessions and tokens, so the edge
// can be tested against a real Caddy before the server exists:
// - browser routes: the app session cookie → 200 with identity; none → 302 to sign-in keeping
//   the original URL; the sign-in callback path with a one-time ticket → 302 + Set-Cookie;
// - API routes: `Authorization: Bearer` → 200 with identity; otherwise 401 + WWW-Authenticate
//   (never a redirect, never a cookie);
// - a subject that is not the route's → 403;
// - the session `sess-no-identity` answers 200 WITHOUT identity headers, `sess-user-only` with
//   X-Platform-User only and `sess-empty-identity` with empty values (the GHSA-7r4p-vjf4-gxv4
//   scenario: the edge must not pass a forged header through).
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  APP_SESSION_COOKIE,
  AUTH_CALLBACK_PATH,
  FORWARD_AUTH_PATH,
  FORWARD_AUTH_ROUTE_PARAMETER,
  PLATFORM_ASSERTION_HEADER,
  PLATFORM_USER_HEADER,
  type RouteIntent,
} from "../../src/index.js";
import { createPlatformSigner, mintAssertion, type PlatformSigner } from "./platform-jwt.js";

/** One forward-auth request as the stub saw it. */
export interface AuthRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
}

/** A running stub. */
export interface ForwardAuthStub {
  readonly port: number;
  readonly issuer: string;
  readonly signInUrl: string;
  readonly signer: PlatformSigner;
  readonly requests: AuthRequest[];
  /** Browser sessions (app session cookie value → user id); tests may add to it. */
  readonly sessions: Map<string, string>;
  /** API bearer tokens → user id. */
  readonly tokens: Map<string, string>;
  /** One-time sign-in tickets → user id. */
  readonly tickets: Map<string, string>;
  setRoutes(intents: readonly RouteIntent[]): void;
  close(): Promise<void>;
}

/** Session values with special answers. */
export const NO_IDENTITY_SESSION = "sess-no-identity";
export const USER_ONLY_SESSION = "sess-user-only";
export const EMPTY_IDENTITY_SESSION = "sess-empty-identity";

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function hostOnly(value: string): string {
  return value.replace(/:\d+$/, "").toLowerCase();
}

/** Starts the stub on a free 127.0.0.1 port. */
export async function startForwardAuthStub(): Promise<ForwardAuthStub> {
  const signer = createPlatformSigner();
  const issuer = "https://console.example.test";
  const signInUrl = "https://console.example.test/ingress/sign-in";
  const routes = new Map<string, RouteIntent>();
  const requests: AuthRequest[] = [];
  const sessions = new Map<string, string>([
    ["sess-alice", "user-alice"],
    ["sess-bob", "user-bob"],
    [NO_IDENTITY_SESSION, "special"],
    [USER_ONLY_SESSION, "special"],
    [EMPTY_IDENTITY_SESSION, "special"],
  ]);
  const tokens = new Map<string, string>([
    ["tok-alice", "user-alice"],
    ["tok-bob", "user-bob"],
  ]);
  const tickets = new Map<string, string>();

  const server: Server = createServer((req, res) => {
    let bodyLength = 0;
    req.on("data", (chunk: Buffer) => {
      bodyLength += chunk.length;
    });
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://stub");
      if (url.pathname === "/.well-known/jwks.json") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(signer.jwks));
        return;
      }
      if (url.pathname !== FORWARD_AUTH_PATH) {
        res.writeHead(404).end();
        return;
      }
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyLength,
      });
      const route = routes.get(url.searchParams.get(FORWARD_AUTH_ROUTE_PARAMETER) ?? "");
      const hostHeader = String(req.headers["x-forwarded-host"] ?? req.headers.host ?? "");
      if (route === undefined || hostOnly(hostHeader) !== route.publicHost) {
        res.writeHead(403).end("unknown route or host");
        return;
      }
      const uri = String(req.headers["x-forwarded-uri"] ?? "/");
      const proto = String(req.headers["x-forwarded-proto"] ?? "https");
      let user: string | undefined;
      let session: string | undefined;
      if (route.clientAuth === "api_bearer") {
        const match = /^Bearer ([^\s]+)$/.exec(String(req.headers.authorization ?? ""));
        user = match?.[1] === undefined ? undefined : tokens.get(match[1]);
        if (user === undefined) {
          res.writeHead(401, {
            "WWW-Authenticate": `Bearer realm="gpuaas"${match === null ? "" : ', error="invalid_token"'}`,
          });
          res.end("a platform bearer token is required");
          return;
        }
      } else {
        const original = new URL(uri, "http://original");
        if (original.pathname === AUTH_CALLBACK_PATH) {
          const ticketUser = tickets.get(original.searchParams.get("ticket") ?? "");
          const rd = original.searchParams.get("rd") ?? "/";
          tickets.delete(original.searchParams.get("ticket") ?? "");
          // Only a path on this host: never an open redirect.
          if (ticketUser === undefined || !rd.startsWith("/") || rd.startsWith("//")) {
            res.writeHead(403).end("invalid sign-in ticket");
            return;
          }
          const fresh = `sess-${randomUUID()}`;
          sessions.set(fresh, ticketUser);
          res.writeHead(302, {
            Location: rd,
            "Set-Cookie": `${APP_SESSION_COOKIE}=${fresh}; Path=/; Secure; HttpOnly; SameSite=Lax`,
          });
          res.end();
          return;
        }
        session = readCookie(req.headers.cookie, APP_SESSION_COOKIE);
        user = session === undefined ? undefined : sessions.get(session);
        if (user === undefined) {
          const rd = `${proto}://${hostHeader}${uri}`;
          res.writeHead(302, { Location: `${signInUrl}?rd=${encodeURIComponent(rd)}` });
          res.end();
          return;
        }
      }
      if (session === NO_IDENTITY_SESSION) {
        res.writeHead(200).end();
        return;
      }
      if (session === EMPTY_IDENTITY_SESSION) {
        res.writeHead(200, { [PLATFORM_USER_HEADER]: "", [PLATFORM_ASSERTION_HEADER]: "" }).end();
        return;
      }
      if (session === USER_ONLY_SESSION) {
        res.writeHead(200, { [PLATFORM_USER_HEADER]: "user-alice" }).end();
        return;
      }
      if (!route.subjects.users.includes(user)) {
        res.writeHead(403).end("not allowed on this endpoint");
        return;
      }
      res.writeHead(200, {
        [PLATFORM_USER_HEADER]: user,
        [PLATFORM_ASSERTION_HEADER]: mintAssertion(signer, {
          issuer,
          user,
          audience: route.publicHost,
          routeId: route.routeId,
        }),
      });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    issuer,
    signInUrl,
    signer,
    requests,
    sessions,
    tokens,
    tickets,
    setRoutes(intents) {
      routes.clear();
      for (const intent of intents) routes.set(intent.routeId, intent);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
