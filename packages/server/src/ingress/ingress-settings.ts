/**
 * The managed-ingress part of the configuration, in the shape the route derivation, the
 * forward-auth endpoint and the edge applier read.
 */
import type { AccessPolicy, PublicHostMap } from "@gpuaas/ingress";
import type { ServerConfig } from "../http/server-config.js";

/** What deriving and serving routes needs from the configuration. */
export interface IngressSettings {
  readonly hostMap: PublicHostMap;
  /** The apps domain every host must lie under; undefined when none is configured. */
  readonly domain: string | undefined;
  readonly access: AccessPolicy;
  readonly publicScheme: "http" | "https";
  /** The edge's port when it is not the scheme's default. */
  readonly publicPort: number | undefined;
}

/** The ingress settings of a configuration. */
export function toIngressSettings(config: ServerConfig): IngressSettings {
  const defaultPort = config.ingress_public_scheme === "https" ? 443 : 80;
  return {
    hostMap: config.managed_ingress_host_map,
    domain: config.ingress_domain === "" ? undefined : config.ingress_domain,
    access: config.ingress_access,
    publicScheme: config.ingress_public_scheme,
    publicPort:
      config.ingress_public_port === 0 || config.ingress_public_port === defaultPort
        ? undefined
        : config.ingress_public_port,
  };
}

/**
 * The origin browsers use for a public host, e.g. `https://jupyter-1a2b3c.apps.example.test`.
 *
 * @example toPublicOrigin("jupyter-1a2b.apps.example.test", settings) // "https://jupyter-1a2b.apps.example.test"
 */
export function toPublicOrigin(host: string, settings: IngressSettings): string {
  return `${settings.publicScheme}://${host}${settings.publicPort === undefined ? "" : `:${settings.publicPort}`}`;
}
