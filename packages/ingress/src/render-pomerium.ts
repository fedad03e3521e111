import { toUnderscoreVariants } from "./edge-contract.js";
import type { RouteIntent, RouteSubjects } from "./route-intent.js";

/** A Pomerium Policy Language document: allow rules of users and groups. */
export interface PomeriumPolicy {
  readonly allow: {
    readonly or: readonly (
      | { readonly user: { readonly is: string } }
      | { readonly groups: { readonly has: string } }
    )[];
  };
}

/** One entry of Pomerium's `routes:` list (keys from `config/policy.go`, reference §2.1). */
export interface PomeriumRoute {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly prefix?: string;
  readonly prefix_rewrite?: string;
  readonly allow_websockets?: true;
  readonly preserve_host_header: boolean;
  readonly pass_identity_headers: true;
  readonly remove_request_headers: readonly string[];
  readonly timeout?: string;
  readonly idle_timeout?: string;
  readonly bearer_token_format?: string;
  readonly idp_access_token_allowed_audiences?: readonly string[];
  readonly tls_upstream_server_name?: string;
  readonly tls_custom_ca_file?: string;
  readonly policy: PomeriumPolicy;
}

/** The part of a Pomerium config file the renderer owns. */
export interface PomeriumRoutes {
  readonly routes: readonly PomeriumRoute[];
}

/** Operator settings of the Pomerium rendering. */
export interface PomeriumRenderOptions {
  /** How API routes read `Authorization: Bearer` (v0.29+); `idp_access_token` by default. */
  readonly bearerTokenFormat?: "idp_access_token" | "idp_identity_token";
  /** Audiences an IdP access token on an API route must carry. */
  readonly idpAccessTokenAllowedAudiences?: readonly string[];
  /** CA file that signs upstream certificates when an upstream speaks TLS. */
  readonly upstreamCaFile?: string;
}

/**
 * Renders intents as Pomerium routes. Websockets are allowed only where the intent requires
 * them; identity goes to the upstream as `X-Pomerium-Jwt-Assertion` (`pass_identity_headers`);
 * API routes get a `bearer_token_format`, so a missing token is a 401, never a redirect.
 * Write the result under `routes:` of the config file atomically (temp file, then rename).
 */
export function renderPomeriumRoutes(
  intents: readonly RouteIntent[],
  options: PomeriumRenderOptions = {},
): PomeriumRoutes {
  return { routes: intents.map((intent) => renderPomeriumRoute(intent, options)) };
}

/** Renders one intent as one Pomerium route. */
export function renderPomeriumRoute(
  intent: RouteIntent,
  options: PomeriumRenderOptions = {},
): PomeriumRoute {
  const api = intent.clientAuth === "api_bearer";
  const { requestSeconds, idleSeconds } = intent.timeouts;
  const remove = [
    // Pomerium strips its own assertion; the platform's headers a client forged are ours to strip.
    ...intent.identityHeaders,
    ...toUnderscoreVariants(intent.identityHeaders),
    ...intent.stripToUpstream,
  ];
  return {
    name: intent.routeId,
    from: `https://${intent.publicHost}`,
    to: `${intent.upstream.scheme}://${toAuthority(intent.upstream.host, intent.upstream.port)}`,
    // Envoy's prefix match is not segment-bounded: a trailing slash makes it so.
    ...(intent.pathPrefix !== undefined
      ? { prefix: `${intent.pathPrefix}/`, prefix_rewrite: "/" }
      : {}),
    ...(intent.websocket ? { allow_websockets: true as const } : {}),
    // Jupyter-like tools compare a websocket's Origin with Host: keep the public host.
    preserve_host_header: !api,
    pass_identity_headers: true,
    remove_request_headers: [...new Set(remove)],
    // With idle_timeout set and timeout unset, Pomerium puts no total deadline on the route.
    ...(requestSeconds !== undefined ? { timeout: `${requestSeconds}s` } : {}),
    ...(idleSeconds !== undefined ? { idle_timeout: `${idleSeconds}s` } : {}),
    ...(api ? { bearer_token_format: options.bearerTokenFormat ?? "idp_access_token" } : {}),
    ...(api && options.idpAccessTokenAllowedAudiences !== undefined
      ? { idp_access_token_allowed_audiences: [...options.idpAccessTokenAllowedAudiences] }
      : {}),
    ...(intent.upstream.scheme === "https" && intent.upstream.tlsServerName !== undefined
      ? { tls_upstream_server_name: intent.upstream.tlsServerName }
      : {}),
    ...(intent.upstream.scheme === "https" && options.upstreamCaFile !== undefined
      ? { tls_custom_ca_file: options.upstreamCaFile }
      : {}),
    policy: toPomeriumPolicy(intent.subjects),
  };
}

/** The PPL allowing a route's subjects: each user by id, each group by name. */
export function toPomeriumPolicy(subjects: RouteSubjects): PomeriumPolicy {
  return {
    allow: {
      or: [
        ...subjects.users.map((user) => ({ user: { is: user } })),
        ...subjects.groups.map((group) => ({ groups: { has: group } })),
      ],
    },
  };
}

function toAuthority(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
