import { toUnderscoreVariants } from "./edge-contract.js";
import { toPomeriumPolicy } from "./render-pomerium.js";
import type { RouteIntent } from "./route-intent.js";

/** A Gateway a route attaches to (from operator config). */
export interface GatewayParentRef {
  readonly name: string;
  readonly namespace?: string;
  readonly sectionName?: string;
}

/** Operator settings of the Gateway API rendering. */
export interface GatewayApiRenderOptions {
  /** Namespace of every rendered object. */
  readonly namespace: string;
  readonly parentRefs: readonly GatewayParentRef[];
  /**
   * How the Gateway authenticates: `pomerium_policy_filter` adds an `ExtensionRef` to a rendered
   * `gateway.pomerium.io/v1alpha1` `PolicyFilter`; `gateway` leaves it to a Gateway-wide policy.
   */
  readonly auth: "pomerium_policy_filter" | "gateway";
  /** Prefix of the labels and annotations the renderer sets; `gpuaas.dev` by default. */
  readonly labelDomain?: string;
}

/** A Kubernetes object as plain data. */
export interface KubernetesObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

const MAX_NAME = 63;

/**
 * Renders each intent as a selector-less Service, an EndpointSlice pointing at the upstream
 * outside the cluster, an HTTPRoute (hostname, parentRefs, header removal before auth, the auth
 * filter, the path-compat rewrite, backendRef), and a Pomerium PolicyFilter when asked.
 *
 * Gateway API has no filter that runs after auth, so `Authorization` cannot be removed towards
 * the workload here; the auth filter's implementation must do it (Pomerium's does not for
 * service-account tokens: reference §2.3).
 */
export function renderGatewayApi(
  intents: readonly RouteIntent[],
  options: GatewayApiRenderOptions,
): KubernetesObject[] {
  return intents.flatMap((intent) => renderGatewayApiRoute(intent, options));
}

/** Renders one intent as its Service, EndpointSlice, HTTPRoute (and PolicyFilter). */
export function renderGatewayApiRoute(
  intent: RouteIntent,
  options: GatewayApiRenderOptions,
): KubernetesObject[] {
  const name = toKubernetesName(`${intent.instanceId}-${intent.endpointName}`);
  const domain = options.labelDomain ?? "gpuaas.dev";
  const metadata = {
    name,
    namespace: options.namespace,
    labels: {
      "app.kubernetes.io/managed-by": "gpuaas",
      [`${domain}/instance`]: toLabelValue(intent.instanceId),
      [`${domain}/endpoint`]: toLabelValue(intent.endpointName),
    },
    annotations: { [`${domain}/route-id`]: intent.routeId },
  };
  const appProtocol = intent.websocket
    ? intent.upstream.scheme === "https"
      ? "kubernetes.io/wss"
      : "kubernetes.io/ws"
    : undefined;
  const port = {
    name: intent.upstream.scheme,
    port: intent.upstream.port,
    ...(appProtocol !== undefined ? { appProtocol } : {}),
  };
  const service: KubernetesObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata,
    // No selector: the EndpointSlice below names the upstream outside the cluster.
    spec: { ports: [{ ...port, protocol: "TCP", targetPort: intent.upstream.port }] },
  };
  const endpointSlice: KubernetesObject = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      ...metadata,
      name: toKubernetesName(`${name}-1`),
      labels: { ...metadata.labels, "kubernetes.io/service-name": name },
    },
    addressType: toAddressType(intent.upstream.host),
    ports: [{ ...port, protocol: "TCP" }],
    endpoints: [{ addresses: [intent.upstream.host] }],
  };
  const removed = [
    ...intent.identityHeaders,
    ...toUnderscoreVariants(intent.identityHeaders),
    // Before auth only what is never a credential can go: the cookie of an API route.
    ...(intent.stripToUpstream.includes("Cookie") ? ["Cookie"] : []),
  ];
  const filters: unknown[] = [
    { type: "RequestHeaderModifier", requestHeaderModifier: { remove: removed } },
  ];
  const objects: KubernetesObject[] = [service, endpointSlice];
  if (options.auth === "pomerium_policy_filter") {
    filters.push({
      type: "ExtensionRef",
      extensionRef: { group: "gateway.pomerium.io", kind: "PolicyFilter", name },
    });
    objects.push({
      apiVersion: "gateway.pomerium.io/v1alpha1",
      kind: "PolicyFilter",
      metadata,
      // PPL is YAML; JSON is YAML too.
      spec: { ppl: JSON.stringify(toPomeriumPolicy(intent.subjects)) },
    });
  }
  if (intent.pathPrefix !== undefined) {
    filters.push({
      type: "URLRewrite",
      urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } },
    });
  }
  const rule: Record<string, unknown> = {
    // PathPrefix matches whole segments: "/i/x/web" never matches "/i/x/webX".
    matches: [{ path: { type: "PathPrefix", value: intent.pathPrefix ?? "/" } }],
    filters,
    backendRefs: [{ kind: "Service", name, port: intent.upstream.port }],
  };
  if (intent.timeouts.requestSeconds !== undefined && !intent.websocket) {
    rule.timeouts = { request: `${intent.timeouts.requestSeconds}s` };
  }
  objects.push({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata,
    spec: {
      parentRefs: options.parentRefs.map((ref) => ({ ...ref })),
      hostnames: [intent.publicHost],
      rules: [rule],
    },
  });
  return objects;
}

function toAddressType(host: string): "IPv4" | "IPv6" | "FQDN" {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return "IPv4";
  return host.includes(":") ? "IPv6" : "FQDN";
}

/** A DNS-1123 label from any id: lowercase, `-` for other characters, hashed when too long. */
export function toKubernetesName(id: string): string {
  const cleaned = id
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (cleaned.length <= MAX_NAME) return cleaned;
  return `${cleaned.slice(0, MAX_NAME - 9).replace(/-+$/, "")}-${toFnv1a(id)}`;
}

function toLabelValue(value: string): string {
  return value.length <= MAX_NAME ? value : toKubernetesName(value);
}

function toFnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
