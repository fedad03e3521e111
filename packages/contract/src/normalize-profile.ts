import { integer, type Loose, list, record, text } from "./loose.js";
import type {
  AuthPattern,
  ClientAuthMode,
  Endpoint,
  EndpointType,
  ManagedIngress,
  RouteFamily,
  RouteMode,
  StorageMount,
  WorkloadProfile,
} from "./types.js";

/** The auth pattern a legacy endpoint gets: the edge authenticates and injects a signed JWT. */
export const LEGACY_DEFAULT_AUTH_PATTERN: AuthPattern = "header_injected_jwt";

/**
 * Maps one endpoint, in either the v1.1 or the legacy shape, to the v1.1 shape.
 *
 * Implements the seed's "Endpoint Exposure Contract": `protocol` → `type`;
 * `exposure_modes: [platform_proxy]` → `managed_ingress.enabled` with route_mode
 * `platform_path_compat`; `proxy.default_open_path`/`websocket_required` → `managed_ingress`;
 * `route_family` derived from `client_auth_mode` when absent. `proxy.auth_bridge` is dropped.
 * Expects an endpoint that passed the schema.
 */
export function normalizeEndpoint(raw: Loose): Endpoint {
  const ingress = record(raw.managed_ingress);
  const proxy = record(raw.proxy);
  const proxied = list(raw.exposure_modes).includes("platform_proxy");
  const clientAuth = (text(ingress.client_auth_mode) ?? "browser_oidc") as ClientAuthMode;
  const managed: ManagedIngress = {
    enabled: typeof ingress.enabled === "boolean" ? ingress.enabled : proxied,
    route_mode: (text(ingress.route_mode) ??
      (proxied ? "platform_path_compat" : "host")) as RouteMode,
    default_open_path: text(ingress.default_open_path) ?? text(proxy.default_open_path) ?? "/",
    websocket_required:
      typeof ingress.websocket_required === "boolean"
        ? ingress.websocket_required
        : proxy.websocket_required === true,
    client_auth_mode: clientAuth,
    route_family: (text(ingress.route_family) ??
      (clientAuth === "api_bearer" ? "api_app" : "browser_app")) as RouteFamily,
    ...optional("request_timeout_seconds", integer(ingress.request_timeout_seconds)),
    ...optional("idle_timeout_seconds", integer(ingress.idle_timeout_seconds)),
  };
  return {
    name: text(raw.name) ?? "",
    port: integer(raw.port) ?? 0,
    type: (text(raw.type) ?? text(raw.protocol)) as EndpointType,
    auth_pattern: (text(raw.auth_pattern) ?? LEGACY_DEFAULT_AUTH_PATTERN) as AuthPattern,
    managed_ingress: managed,
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}

function copy<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Builds the normalized profile from a manifest that passed {@link validateProfile}'s checks.
 * Every section is present, endpoints are in the v1.1 shape, and defaults are filled in.
 */
export function normalizeProfile(manifest: Loose): WorkloadProfile {
  const storage = record(manifest.storage);
  const validation = record(manifest.validation);
  const mounts: StorageMount[] = list(storage.mounts).map((raw) => {
    const mount = record(raw);
    return {
      name: text(mount.name) ?? "",
      path: text(mount.path) ?? "",
      required: mount.required === true,
      modes: copy(mount.modes),
    };
  });
  return {
    profile: copy(manifest.profile),
    artifacts: copy(manifest.artifacts),
    parameters: copy(manifest.parameters),
    resources: copy(manifest.resources),
    storage: { mounts },
    network: {
      endpoints: list(record(manifest.network).endpoints).map((endpoint) =>
        normalizeEndpoint(record(endpoint)),
      ),
    },
    execution: copy(manifest.execution),
    outputs: copy(manifest.outputs ?? {}),
    validation: {
      readiness: copy(validation.readiness ?? []),
      smoke: copy(validation.smoke ?? []),
    },
    security: copy(manifest.security ?? {}),
  };
}
