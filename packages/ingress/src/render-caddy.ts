import {
  FORWARD_AUTH_ROUTE_PARAMETER,
  FORWARDED_METHOD_HEADER,
  FORWARDED_URI_HEADER,
  toUnderscoreVariants,
} from "./edge-contract.js";
import type { RouteIntent, RouteUpstream } from "./route-intent.js";

/** A Caddy JSON handler object (`handler` names the module). */
export interface CaddyHandler {
  readonly handler: string;
  readonly [field: string]: unknown;
}

/** A Caddy JSON matcher set: every matcher in it must match. */
export type CaddyMatcherSet = Readonly<Record<string, unknown>>;

/** A Caddy JSON route; `@id` lets the admin API read or remove it alone. */
export interface CaddyRoute {
  readonly "@id"?: string;
  readonly match?: readonly CaddyMatcherSet[];
  readonly handle: readonly CaddyHandler[];
  readonly terminal?: boolean;
}

/** A whole Caddy JSON config as {@link renderCaddyConfig} makes it. */
export interface CaddyConfig {
  readonly admin: {
    readonly listen: string;
    readonly config: { readonly persist: boolean };
  };
  readonly apps: {
    readonly http: {
      readonly servers: Readonly<Record<string, CaddyServer>>;
    };
    readonly tls?: unknown;
  };
}

/** One Caddy HTTP server of the edge. */
export interface CaddyServer {
  readonly listen: readonly string[];
  readonly automatic_https: { readonly disable: boolean };
  readonly routes: readonly CaddyRoute[];
  readonly tls_connection_policies?: readonly unknown[];
}

/** Where Caddy reaches the control plane's forward-auth endpoint, and what the browser sees. */
export interface CaddyRouteOptions {
  /** `host:port` Caddy dials for forward auth, e.g. `127.0.0.1:8080`. */
  readonly authDial: string;
  /** Path of the forward-auth endpoint, e.g. `/ingress/forward-auth`. */
  readonly authPath: string;
  /** Scheme browsers use to reach the edge (for the websocket `Origin` check); `https` by default. */
  readonly publicScheme?: "http" | "https";
  /** Port browsers use when it is not the scheme's default (for the `Origin` check). */
  readonly publicPort?: number;
  /** CA files that sign upstream certificates when an upstream speaks TLS. */
  readonly upstreamTrustedCaFiles?: readonly string[];
}

/** Options of the whole edge config. */
export interface CaddyConfigOptions extends CaddyRouteOptions {
  /** Admin listener: loopback `127.0.0.1:<port>` or `unix/<path>` only. */
  readonly adminListen: string;
  /** Addresses the edge serves on, e.g. `[":443"]`. */
  readonly listen: readonly string[];
  /** Name of the HTTP server in the config; {@link CADDY_SERVER_NAME} by default. */
  readonly serverName?: string;
  /** The apps wildcard certificate; without it the edge speaks plain HTTP (TLS ends in front). */
  readonly tls?: { readonly certificateFile: string; readonly keyFile: string };
}

/** Name of the edge's HTTP server in the Caddy config. */
export const CADDY_SERVER_NAME = "gpuaas_edge";
/** Prefix of every route's `@id`; the admin client lists only routes that carry it. */
export const CADDY_ROUTE_ID_PREFIX = "route-";
/** `@id` of the final route that answers 404 for every host no intent claims. */
export const CADDY_UNKNOWN_HOST_ID = "gpuaas-unknown-host";

// An identity header that is empty, or still the literal placeholder, after the copy.
const IDENTITY_GUARD = "^(?:\\s*$|\\{http\\.reverse_proxy\\.)";

/** The `@id` of an intent's Caddy route. */
export function toCaddyRouteId(routeId: string): string {
  return `${CADDY_ROUTE_ID_PREFIX}${routeId}`;
}

/**
 * Renders one intent as one self-contained Caddy route. Its subroute runs in a fixed order that
 * never depends on Caddy's directive sorting (reference §0.3): strip client identity headers →
 * forward auth to the platform → copy the platform's identity headers (or fail closed) → refuse
 * upgrades the route does not allow → reverse proxy without platform credentials.
 */
export function renderCaddyRoute(intent: RouteIntent, options: CaddyRouteOptions): CaddyRoute {
  const owned = [...intent.identityHeaders, ...toUnderscoreVariants(intent.identityHeaders)];
  const steps: CaddyRoute[] = [
    { handle: [{ handler: "headers", request: { delete: owned } }] },
    { handle: [renderForwardAuth(intent, options)] },
    ...renderUpgradeGates(intent, options),
  ];
  if (intent.pathPrefix !== undefined) {
    steps.push({ handle: [{ handler: "rewrite", strip_path_prefix: intent.pathPrefix }] });
  }
  steps.push(...renderCookieStrip(intent));
  steps.push({ handle: [renderUpstreamProxy(intent, options)] });
  const match: Record<string, unknown> = { host: [intent.publicHost] };
  if (intent.pathPrefix !== undefined) {
    // Segment-bounded: "/i/x/web" and "/i/x/web/…" match, "/i/x/webX" does not.
    match.path = [intent.pathPrefix, `${intent.pathPrefix}/*`];
  }
  return {
    "@id": toCaddyRouteId(intent.routeId),
    match: [match],
    handle: [{ handler: "subroute", routes: steps }],
    terminal: true,
  };
}

function renderForwardAuth(intent: RouteIntent, options: CaddyRouteOptions): CaddyHandler {
  const headers = intent.identityHeaders;
  const present = Object.fromEntries(headers.map((name) => [name, ["*"]]));
  const copy = Object.fromEntries(
    headers.map((name) => [name, [`{http.reverse_proxy.header.${name}}`]]),
  );
  return {
    handler: "reverse_proxy",
    upstreams: [{ dial: options.authDial }],
    rewrite: {
      method: "GET",
      uri: `${options.authPath}?${FORWARD_AUTH_ROUTE_PARAMETER}=${encodeURIComponent(intent.routeId)}`,
    },
    headers: {
      request: {
        set: {
          [FORWARDED_METHOD_HEADER]: ["{http.request.method}"],
          [FORWARDED_URI_HEADER]: ["{http.request.uri}"],
        },
        delete: ["Upgrade", "Connection"],
      },
    },
    handle_response: [
      {
        // 2xx with every identity header: delete again, then set from the auth reply only.
        match: { status_code: [2], headers: present },
        routes: [
          { handle: [{ handler: "headers", request: { delete: headers } }] },
          { handle: [{ handler: "headers", request: { set: copy } }] },
          // Caddy 2.6.2 leaks the literal placeholder when a copied header is missing
          // (reference §3.1 caveat 2), and an empty value is no identity: refuse both.
          ...headers.map(
            (name): CaddyRoute => ({
              match: [{ header_regexp: { [name]: { pattern: IDENTITY_GUARD } } }],
              handle: [failClosed()],
            }),
          ),
        ],
      },
      {
        // 2xx without the identity headers breaks the contract: fail closed (reference §8.12).
        match: { status_code: [2] },
        routes: [{ handle: [failClosed()] }],
      },
    ],
  };
}

function failClosed(): CaddyHandler {
  return {
    handler: "static_response",
    status_code: 502,
    body: "the platform's auth reply carried no identity",
    close: true,
  };
}

function refuse(body: string): CaddyHandler {
  return { handler: "static_response", status_code: 403, body };
}

function renderUpgradeGates(intent: RouteIntent, options: CaddyRouteOptions): CaddyRoute[] {
  const upgrade = { header: { Upgrade: ["*"] } };
  if (!intent.websocket) {
    return [
      {
        match: [upgrade],
        handle: [refuse("this endpoint does not accept websocket upgrades")],
        terminal: true,
      },
    ];
  }
  const gates: CaddyRoute[] = [
    {
      match: [
        { ...upgrade, not: [{ header_regexp: { Upgrade: { pattern: "(?i)^websocket$" } } }] },
      ],
      handle: [refuse("only websocket upgrades are allowed")],
      terminal: true,
    },
  ];
  if (intent.clientAuth === "browser_oidc") {
    // Browsers attach the session cookie to cross-site websocket handshakes (CSWSH): only the
    // route's own origin may open one (reference §8.7).
    gates.push({
      match: [{ ...upgrade, not: [{ header: { Origin: toOrigins(intent.publicHost, options) } }] }],
      handle: [refuse("websocket handshakes must come from the endpoint's own origin")],
      terminal: true,
    });
  }
  return gates;
}

function toOrigins(host: string, options: CaddyRouteOptions): string[] {
  const scheme = options.publicScheme ?? "https";
  const defaultPort = scheme === "https" ? 443 : 80;
  const port = options.publicPort;
  return port === undefined || port === defaultPort
    ? [`${scheme}://${host}`]
    : [`${scheme}://${host}:${port}`];
}

/**
 * Cuts the platform's cookies out of `Cookie` after forward auth has read them, and drops the
 * header when nothing is left: Caddy 2.6.2's `replace` keeps an emptied header, and an empty
 * `Cookie:` would still reach the workload. A request carrying a non-empty `Cookie` line next to
 * the emptied one keeps both (deleting would drop the app's own cookies).
 */
function renderCookieStrip(intent: RouteIntent): CaddyRoute[] {
  if (intent.stripToUpstream.includes("Cookie") || intent.stripCookies.length === 0) return [];
  return [
    {
      handle: [
        {
          handler: "headers",
          request: { replace: { Cookie: intent.stripCookies.flatMap(toCookieRemovals) } },
        },
      ],
    },
    {
      match: [
        {
          header_regexp: { Cookie: { pattern: "^\\s*$" } },
          not: [{ header_regexp: { Cookie: { pattern: "\\S" } } }],
        },
      ],
      handle: [{ handler: "headers", request: { delete: ["Cookie"] } }],
    },
  ];
}

function renderUpstreamProxy(intent: RouteIntent, options: CaddyRouteOptions): CaddyHandler {
  const request: Record<string, unknown> = { delete: [...intent.stripToUpstream] };
  const transport: Record<string, unknown> = { protocol: "http", dial_timeout: "10s" };
  if (intent.timeouts.requestSeconds !== undefined) {
    transport.response_header_timeout = `${intent.timeouts.requestSeconds}s`;
  }
  if (intent.timeouts.idleSeconds !== undefined) {
    transport.read_timeout = `${intent.timeouts.idleSeconds}s`;
    transport.write_timeout = `${intent.timeouts.idleSeconds}s`;
  }
  if (intent.upstream.scheme === "https") {
    transport.tls = {
      ...(intent.upstream.tlsServerName !== undefined
        ? { server_name: intent.upstream.tlsServerName }
        : {}),
      ...(options.upstreamTrustedCaFiles !== undefined
        ? { root_ca_pem_files: [...options.upstreamTrustedCaFiles] }
        : {}),
    };
  }
  return {
    handler: "reverse_proxy",
    upstreams: [{ dial: toDial(intent.upstream) }],
    headers: { request },
    transport,
  };
}

/** Removes one cookie from a `Cookie` header: later occurrences first, then a leading one. */
function toCookieRemovals(name: string): { search_regexp: string; replace: string }[] {
  const quoted = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [
    { search_regexp: `;\\s*${quoted}=[^;]*`, replace: "" },
    { search_regexp: `^\\s*${quoted}=[^;]*(;\\s*)?`, replace: "" },
  ];
}

function toDial(upstream: RouteUpstream): string {
  const host = upstream.host.includes(":") ? `[${upstream.host}]` : upstream.host;
  return `${host}:${upstream.port}`;
}

/**
 * True when a Caddy admin `listen` address is a loopback TCP address (`127.0.0.0/8`, `[::1]`,
 * `localhost`) or a unix socket (`unix/<absolute path>`): the edge's admin API is never reachable
 * from outside the host (reference §8.14).
 */
export function isLoopbackAdminListen(listen: string): boolean {
  if (listen.startsWith("unix/")) return listen.slice("unix/".length).startsWith("/");
  const match = /^(?:tcp\/)?(\[::1\]|localhost|127(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(listen);
  if (match === null) return false;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return false;
  const host = match[1] ?? "";
  return !host.startsWith("127") || host.split(".").every((part) => Number(part) <= 255);
}

/** The final route: any host or path no intent claims gets 404, never a workload. */
export function renderCaddyUnknownHostRoute(): CaddyRoute {
  return {
    "@id": CADDY_UNKNOWN_HOST_ID,
    handle: [{ handler: "static_response", status_code: 404, body: "no such endpoint" }],
    terminal: true,
  };
}

/**
 * Renders the whole edge config: one route per intent, then the 404 route, with the admin API
 * on loopback or a unix socket. Load it with the admin client's `load`.
 */
export function renderCaddyConfig(
  intents: readonly RouteIntent[],
  options: CaddyConfigOptions,
): CaddyConfig {
  if (!isLoopbackAdminListen(options.adminListen)) {
    throw new RangeError(
      `the Caddy admin API must listen on loopback or a unix socket, not "${options.adminListen}"`,
    );
  }
  const server: CaddyServer = {
    listen: [...options.listen],
    // The renderer owns TLS explicitly; Caddy must not try to obtain certificates per host.
    automatic_https: { disable: true },
    routes: [
      ...intents.map((intent) => renderCaddyRoute(intent, options)),
      renderCaddyUnknownHostRoute(),
    ],
    ...(options.tls !== undefined ? { tls_connection_policies: [{}] } : {}),
  };
  return {
    admin: { listen: options.adminListen, config: { persist: false } },
    apps: {
      http: { servers: { [options.serverName ?? CADDY_SERVER_NAME]: server } },
      ...(options.tls !== undefined
        ? {
            tls: {
              certificates: {
                load_files: [
                  { certificate: options.tls.certificateFile, key: options.tls.keyFile },
                ],
              },
            },
          }
        : {}),
    },
  };
}
