import type {
  AuthPattern,
  ClientAuthMode,
  Endpoint,
  RouteFamily,
  RouteMode,
  WorkloadProfile,
} from "@gpuaas/contract";
import { IDENTITY_HEADERS, PLATFORM_COOKIES, PROJECT_GROUP_PREFIX } from "./edge-contract.js";
import { type PublicHostMap, toInstanceHost } from "./public-host.js";

/** Where the edge sends a route's traffic: the node address and host port the agent reported. */
export interface RouteUpstream {
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
  /** Server name to verify when the upstream speaks TLS across hosts. */
  readonly tlsServerName?: string;
}

/** Who may reach a route: user ids, and groups such as `project:<project id>`. */
export interface RouteSubjects {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

/** Edge timeouts of a route, in seconds; absent means no limit of that kind. */
export interface RouteTimeouts {
  /** Longest a request may wait for its response (long generations need more). */
  readonly requestSeconds?: number;
  /** Longest a connection (a websocket included) may stay silent. */
  readonly idleSeconds?: number;
}

/**
 * One renderer-neutral route to a workload endpoint, derived from the normalized profile, the
 * instance and the operator's host map. Nothing in it is specific to Caddy, Pomerium or Gateway
 * API; each renderer turns it into its own configuration.
 */
export interface RouteIntent {
  /** `<instance id>.<endpoint name>`: stable across re-renders, used as each renderer's route id. */
  readonly routeId: string;
  readonly instanceId: string;
  readonly projectId: string;
  readonly appSlug: string;
  readonly endpointName: string;
  /** The instance's own single-label host under the host map's base. */
  readonly publicHost: string;
  readonly routeMode: RouteMode;
  /** `platform_path_compat` only: a segment-bounded prefix removed before the upstream. */
  readonly pathPrefix?: string;
  readonly upstream: RouteUpstream;
  /** True only when the endpoint requires websockets; every other route refuses upgrades. */
  readonly websocket: boolean;
  readonly family: RouteFamily;
  readonly clientAuth: ClientAuthMode;
  readonly authPattern: AuthPattern;
  readonly subjects: RouteSubjects;
  /** Headers only the edge sets (after auth); a client's values are removed before auth. */
  readonly identityHeaders: readonly string[];
  /** Request headers removed towards the workload: platform credentials never reach it. */
  readonly stripToUpstream: readonly string[];
  /** Cookies removed from the `Cookie` header towards the workload (the platform session). */
  readonly stripCookies: readonly string[];
  readonly timeouts: RouteTimeouts;
  /** The path the UI's launch link opens (`https://{publicHost}{pathPrefix}{defaultOpenPath}`); not a rewrite. */
  readonly defaultOpenPath: string;
}

/** Who besides the owner may reach an instance's routes. `per_user_instance` is always owner-only. */
export type AccessPolicy = "owner" | "project_members";

/** The upstream address the agent reported for one endpoint. */
export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  readonly scheme?: "http" | "https";
  readonly tls_server_name?: string;
}

/** The instance a route belongs to. */
export interface RouteInstance {
  readonly id: string;
  /** A short, DNS-label-safe id unique among live instances, used in the public host. */
  readonly short_id: string;
  readonly project_id: string;
  readonly owner_user_id: string;
  readonly app_slug: string;
}

/** Everything {@link deriveRouteIntents} needs. */
export interface RouteIntentInput {
  readonly profile: WorkloadProfile;
  readonly instance: RouteInstance;
  /** Upstream per endpoint name. */
  readonly upstream: Readonly<Record<string, UpstreamAddress>>;
  readonly hostMap: PublicHostMap;
  /** The environment's apps domain: bare-label host map values sit under it, and every host must. */
  readonly domain?: string;
  readonly access?: AccessPolicy;
  /** Endpoints the launch chose to expose (the `exposure_mode` parameter); absent means all enabled. */
  readonly exposedEndpoints?: readonly string[];
}

/** Why an endpoint has no route: a stable code and the message the instance shows. */
export const UNEXPOSED_CODES = [
  "ingress.not_enabled",
  "ingress.private_by_launch",
  "ingress.unsupported_endpoint_type",
  "ingress.unsupported_auth_pattern",
  "ingress.no_host_mapping",
  "ingress.invalid_public_host",
  "ingress.host_outside_domain",
  "ingress.no_upstream",
  "ingress.invalid_upstream",
  "ingress.invalid_instance",
] as const;
/** One of {@link UNEXPOSED_CODES}. */
export type UnexposedCode = (typeof UNEXPOSED_CODES)[number];

/** An endpoint that gets no route, and why. */
export interface UnexposedEndpoint {
  readonly endpoint: string;
  readonly code: UnexposedCode;
  readonly message: string;
}

/** What {@link deriveRouteIntents} gives: one intent per exposed endpoint, a reason for each other. */
export interface RouteIntents {
  readonly intents: readonly RouteIntent[];
  readonly unexposed: readonly UnexposedEndpoint[];
}

/** Endpoint types served over HTTP, the only kind the edge renders today. */
const HTTP_ENDPOINT_TYPES: ReadonlySet<string> = new Set(["http", "mcp"]);

/** Timeouts a route gets when the manifest names none, by route family. */
export const DEFAULT_TIMEOUTS: Readonly<Record<RouteFamily, RouteTimeouts>> = {
  // Interactive tools hold websockets for hours; bound silence, not the whole connection.
  browser_app: { idleSeconds: 3600 },
  terminal_ws: { idleSeconds: 3600 },
  platform_admin: { requestSeconds: 60, idleSeconds: 300 },
  api_app: { requestSeconds: 300, idleSeconds: 120 },
};

const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const SHORT_ID = /^[a-z0-9][a-z0-9-]{0,30}$/;
const UPSTREAM_HOST =
  /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9a-fA-F:.]+$/;

/**
 * Derives one route intent per endpoint with `managed_ingress.enabled`, or the reason an endpoint
 * is not exposed. Legacy manifests, normalized by the contract, give the same intents as their
 * v1.1 equivalents because only normalized fields are read.
 *
 * @example
 * const { intents, unexposed } = deriveRouteIntents({ profile, instance, upstream: { web: { host: "10.0.0.5", port: 8888 } }, hostMap: { "jupyterlab.web": "jupyter.apps.example.test" } });
 */
export function deriveRouteIntents(input: RouteIntentInput): RouteIntents {
  const { instance } = input;
  const intents: RouteIntent[] = [];
  const unexposed: UnexposedEndpoint[] = [];
  const instanceProblem = checkInstance(instance);
  for (const endpoint of input.profile.network.endpoints) {
    const result =
      instanceProblem === undefined
        ? deriveOne(input, endpoint)
        : { code: "ingress.invalid_instance" as const, message: instanceProblem };
    if ("routeId" in result) intents.push(result);
    else unexposed.push({ endpoint: endpoint.name, ...result });
  }
  return { intents, unexposed };
}

type Refusal = { readonly code: UnexposedCode; readonly message: string };

function deriveOne(input: RouteIntentInput, endpoint: Endpoint): RouteIntent | Refusal {
  const { instance } = input;
  const ingress = endpoint.managed_ingress;
  if (!ingress.enabled) {
    return {
      code: "ingress.not_enabled",
      message: "the endpoint is private: reach it through an SSH tunnel to the node",
    };
  }
  if (input.exposedEndpoints !== undefined && !input.exposedEndpoints.includes(endpoint.name)) {
    return {
      code: "ingress.private_by_launch",
      message: "the launch chose private exposure: reach it through an SSH tunnel to the node",
    };
  }
  if (!HTTP_ENDPOINT_TYPES.has(endpoint.type)) {
    return {
      code: "ingress.unsupported_endpoint_type",
      message: `the platform edge routes http endpoints only, not ${endpoint.type}`,
    };
  }
  if (endpoint.auth_pattern === "mtls_user_cert") {
    return {
      code: "ingress.unsupported_auth_pattern",
      message: "the platform edge does not verify user client certificates yet",
    };
  }
  const key = `${instance.app_slug}.${endpoint.name}`;
  const mapped = input.hostMap[key];
  if (mapped === undefined) {
    return {
      code: "ingress.no_host_mapping",
      message: `the operator's public host map has no entry for ${key}`,
    };
  }
  const host = toInstanceHost(mapped, endpoint.name, instance.short_id, input.domain);
  if (!host.ok) {
    return {
      code:
        host.reason === "host_outside_domain"
          ? "ingress.host_outside_domain"
          : "ingress.invalid_public_host",
      message: host.message,
    };
  }
  const address = input.upstream[endpoint.name];
  if (address === undefined) {
    return {
      code: "ingress.no_upstream",
      message: "the agent has not reported an address for this endpoint yet",
    };
  }
  const upstreamProblem = checkUpstream(address);
  if (upstreamProblem !== undefined) {
    return { code: "ingress.invalid_upstream", message: upstreamProblem };
  }
  const api = ingress.client_auth_mode === "api_bearer";
  const ownerOnly =
    input.access !== "project_members" || endpoint.auth_pattern === "per_user_instance";
  const defaults = DEFAULT_TIMEOUTS[ingress.route_family];
  const requestSeconds = ingress.request_timeout_seconds ?? defaults.requestSeconds;
  const idleSeconds = ingress.idle_timeout_seconds ?? defaults.idleSeconds;
  const pathCompat = ingress.route_mode === "platform_path_compat";
  return {
    routeId: `${instance.id}.${endpoint.name}`,
    instanceId: instance.id,
    projectId: instance.project_id,
    appSlug: instance.app_slug,
    endpointName: endpoint.name,
    publicHost: host.host,
    routeMode: ingress.route_mode,
    ...(pathCompat ? { pathPrefix: `/i/${instance.short_id}/${endpoint.name}` } : {}),
    upstream: {
      scheme: address.scheme ?? "http",
      host: address.host,
      port: address.port,
      ...(address.tls_server_name !== undefined ? { tlsServerName: address.tls_server_name } : {}),
    },
    websocket: ingress.websocket_required,
    family: ingress.route_family,
    clientAuth: ingress.client_auth_mode,
    authPattern: endpoint.auth_pattern,
    subjects: {
      users: [instance.owner_user_id],
      groups: ownerOnly ? [] : [`${PROJECT_GROUP_PREFIX}${instance.project_id}`],
    },
    identityHeaders: [...IDENTITY_HEADERS],
    // The caller's platform credential is for the edge, never for the workload (reference §8.4).
    stripToUpstream: api ? ["Authorization", "Cookie"] : ["Authorization"],
    stripCookies: [...PLATFORM_COOKIES],
    timeouts: {
      ...(requestSeconds !== undefined ? { requestSeconds } : {}),
      ...(idleSeconds !== undefined ? { idleSeconds } : {}),
    },
    defaultOpenPath: ingress.default_open_path,
  };
}

function checkInstance(instance: RouteInstance): string | undefined {
  if (!INSTANCE_ID.test(instance.id)) return `instance id "${instance.id}" is not a route-safe id`;
  if (!SHORT_ID.test(instance.short_id)) {
    return `instance short id "${instance.short_id}" is not a lowercase DNS label of at most 31 characters`;
  }
  if (instance.owner_user_id === "") return "the instance has no owner";
  return undefined;
}

function checkUpstream(address: UpstreamAddress): string | undefined {
  if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) {
    return `upstream port ${address.port} is not between 1 and 65535`;
  }
  if (
    !UPSTREAM_HOST.test(address.host) &&
    !(address.host.includes(":") && IPV6.test(address.host))
  ) {
    return `upstream host "${address.host}" is not an IP address or host name`;
  }
  return undefined;
}

/**
 * The launch link the UI shows for a route: `https://{publicHost}{pathPrefix}{defaultOpenPath}`.
 *
 * @example toOpenUrl(intent) // "https://jupyter-abc123.apps.example.test/lab"
 */
export function toOpenUrl(intent: RouteIntent, origin = `https://${intent.publicHost}`): string {
  const path = intent.defaultOpenPath.startsWith("/")
    ? intent.defaultOpenPath
    : `/${intent.defaultOpenPath}`;
  return `${origin}${intent.pathPrefix ?? ""}${path}`;
}
