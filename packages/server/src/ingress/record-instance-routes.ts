/**
 * Derives and stores an instance's route intents when it becomes `running`: the upstream of each
 * endpoint is its node's address and the host port the agent reported for it. Runs inside the
 * transaction that records the state change; the edge applier takes the changes after commit.
 */
import { createHash } from "node:crypto";
import {
  deriveRouteIntents,
  type RouteIntent,
  toOpenUrl,
  type UnexposedEndpoint,
  type UpstreamAddress,
} from "@gpuaas/ingress";
import {
  appendEvent,
  getAppVersionById,
  getInstance,
  type Instance,
  listInstanceMembers,
  type StoreDb,
} from "../store/index.js";
import { getAllocationNode } from "../store/node-instances.js";
import {
  findActiveRouteByHost,
  type RouteChange,
  recordRouteIntents,
} from "../store/route-intents.js";
import type { JsonObject } from "../store/types.js";
import { type IngressSettings, toPublicOrigin } from "./ingress-settings.js";

/** A published port as an agent reports it (launch and control results, container reports). */
export interface ReportedPort {
  readonly endpoint?: string | undefined;
  readonly container_port?: number | undefined;
  readonly host_port: number;
}

/** The address the edge dials when a node reports none: the edge runs on the control plane's host. */
export const DEFAULT_NODE_ADDRESS = "127.0.0.1";

/** What recording an instance's routes did. */
export interface RecordedRoutes extends RouteChange {
  readonly intents: readonly RouteIntent[];
  readonly unexposed: readonly UnexposedEndpoint[];
}

/**
 * The DNS-label-safe short id of an instance used in its public host: the first 12 characters of
 * its id's letters and digits (48 bits of a UUID), or of its SHA-256 when the id has too few.
 *
 * @example toShortId("1a2b3c4d-5e6f-4000-8000-000000000000") // "1a2b3c4d5e6f"
 */
export function toShortId(instanceId: string): string {
  const compact = instanceId.toLowerCase().replace(/[^a-z0-9]/g, "");
  return compact.length >= 8
    ? compact.slice(0, 12)
    : createHash("sha256").update(instanceId).digest("hex").slice(0, 12);
}

/** The subject id of whoever launched an instance: a user id, or `service_account:<id>`. */
export function toOwnerSubject(createdBy: string): string {
  if (createdBy.startsWith("user:")) return createdBy.slice("user:".length);
  return createdBy.startsWith("service_account:") ? createdBy : "";
}

/** The endpoints the launch chose to expose, from its resolved values; undefined when unknown. */
function toExposedEndpoints(instance: Instance): string[] | undefined {
  const endpoints = instance.resolved_values.endpoints;
  if (!Array.isArray(endpoints)) return undefined;
  return endpoints.flatMap((item) =>
    typeof item === "object" &&
    item !== null &&
    !Array.isArray(item) &&
    item.managed_ingress === true &&
    typeof item.name === "string"
      ? [item.name]
      : [],
  );
}

/**
 * Derives the routes of a running instance from its profile, the ports its agent reported (the
 * member's host port when a result carried none) and the operator's host map, and records them
 * with an `ingress.routes_recorded` event. An endpoint whose host another running instance
 * already serves is reported unexposed rather than sharing its origin.
 */
export async function recordInstanceRoutes(
  tx: StoreDb,
  input: {
    readonly instance_id: string;
    readonly ports: readonly ReportedPort[];
    readonly settings: IngressSettings;
    readonly correlation_id: string;
    readonly now: Date;
  },
): Promise<RecordedRoutes | undefined> {
  const instance = await getInstance(tx, input.instance_id);
  if (instance === undefined) return undefined;
  const version = await getAppVersionById(tx, instance.app_version_id);
  if (version === undefined) return undefined;
  const endpoints = version.profile.network.endpoints;
  const nodeAddress =
    (await getAllocationNode(tx, instance.target_allocation_id))?.address ?? DEFAULT_NODE_ADDRESS;
  const members = await listInstanceMembers(tx, instance.id);
  const upstream: Record<string, UpstreamAddress> = {};
  endpoints.forEach((endpoint, index) => {
    const reported =
      input.ports.find((port) => port.endpoint === endpoint.name) ??
      input.ports.find(
        (port) => port.endpoint === undefined && port.container_port === endpoint.port,
      );
    const hostPort =
      reported?.host_port ??
      (index === 0
        ? (members.find((member) => member.host_port !== null)?.host_port ?? undefined)
        : undefined);
    if (hostPort !== undefined) upstream[endpoint.name] = { host: nodeAddress, port: hostPort };
  });
  const exposed = toExposedEndpoints(instance);
  const derived = deriveRouteIntents({
    profile: version.profile,
    instance: {
      id: instance.id,
      short_id: toShortId(instance.id),
      project_id: instance.project_id,
      owner_user_id: toOwnerSubject(instance.created_by),
      app_slug: instance.app_slug,
    },
    upstream,
    hostMap: input.settings.hostMap,
    ...(input.settings.domain !== undefined ? { domain: input.settings.domain } : {}),
    access: input.settings.access,
    ...(exposed !== undefined ? { exposedEndpoints: exposed } : {}),
  });
  const intents: RouteIntent[] = [];
  const unexposed: UnexposedEndpoint[] = [...derived.unexposed];
  for (const intent of derived.intents) {
    const holder = await findActiveRouteByHost(tx, intent.publicHost);
    if (holder !== undefined && holder.instance_id !== instance.id) {
      unexposed.push({
        endpoint: intent.endpointName,
        code: "ingress.invalid_public_host",
        message: `"${intent.publicHost}" already serves instance ${holder.instance_id}`,
      });
    } else intents.push(intent);
  }
  const change = await recordRouteIntents(tx, {
    instance_id: instance.id,
    project_id: instance.project_id,
    intents,
    unexposed,
    now: input.now,
  });
  if (intents.length === 0 && unexposed.length === 0) return { ...change, intents, unexposed };
  const routes = intents.map(
    (intent): JsonObject => ({
      route_id: intent.routeId,
      endpoint: intent.endpointName,
      public_host: intent.publicHost,
      url: toOpenUrl(intent, toPublicOrigin(intent.publicHost, input.settings)),
      client_auth: intent.clientAuth,
    }),
  );
  await appendEvent(tx, {
    project_id: instance.project_id,
    instance_id: instance.id,
    type: "ingress.routes_recorded",
    message:
      intents.length > 0
        ? `managed routes: ${routes.map((route) => String(route.url)).join(", ")}${unexposed.length > 0 ? `; not exposed: ${unexposed.map((item) => `${item.endpoint} (${item.code})`).join(", ")}` : ""}`
        : `no endpoint is exposed through managed ingress: ${unexposed.map((item) => `${item.endpoint} (${item.code})`).join(", ")}`,
    data: {
      routes,
      unexposed: unexposed.map((item) => ({ ...item })),
      activated: [...change.activated],
      withdrawn: [...change.withdrawn],
    },
    correlation_id: input.correlation_id,
  });
  return { ...change, intents, unexposed };
}
