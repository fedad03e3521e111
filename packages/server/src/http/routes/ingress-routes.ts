/**
 * Managed ingress over HTTP: the edge's forward-auth endpoint and the JWKS of the identity
 * assertions (both public: they do their own auth), the console's sign-in tickets for browser
 * routes, an instance's endpoints with their managed URL or SSH tunnel, per-endpoint API keys,
 * and the route lists of a project and of the platform.
 */
import {
  AUTH_CALLBACK_PATH,
  deriveRouteIntents,
  type RouteIntent,
  toOpenUrl,
  type UnexposedEndpoint,
} from "@gpuaas/ingress";
import type { FastifyInstance } from "fastify";
import { decideForwardAuth, isLocalPath, SIGN_IN_PATH } from "../../ingress/forward-auth.js";
import { toPublicOrigin } from "../../ingress/ingress-settings.js";
import {
  DEFAULT_NODE_ADDRESS,
  toOwnerSubject,
  toShortId,
} from "../../ingress/record-instance-routes.js";
import { mayReachRoute } from "../../ingress/route-access.js";
import {
  appendAudit,
  getAppVersionById,
  getInstance,
  type Instance,
  listInstanceMembers,
  type StoreDb,
} from "../../store/index.js";
import {
  createEndpointApiKey,
  createIngressTicket,
  listEndpointApiKeys,
  revokeEndpointApiKey,
  rotateEndpointApiKey,
} from "../../store/ingress-credentials.js";
import { getAllocationNode } from "../../store/node-instances.js";
import {
  findActiveRouteByHost,
  listRouteIntents,
  type StoredRoute,
} from "../../store/route-intents.js";
import type { JsonObject } from "../../store/types.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { toActor } from "../route-problems.js";
import { errorResponses, idSchema, listResponse, objectResponse } from "../route-schemas.js";

/** How long a sign-in ticket may wait between the console and the route's host. */
export const TICKET_TTL_MS = 60_000;
/** The path that publishes the assertion keys. */
export const JWKS_PATH = "/.well-known/jwks.json";

const instanceParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id", "instance_id"],
  properties: { project_id: idSchema, instance_id: idSchema },
} as const;
const endpointSchema = { type: "string", pattern: "^[a-z][a-z0-9_]{0,63}$" } as const;
const endpointParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id", "instance_id", "endpoint"],
  properties: { project_id: idSchema, instance_id: idSchema, endpoint: endpointSchema },
} as const;
const keyParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id", "instance_id", "endpoint", "key_id"],
  properties: {
    project_id: idSchema,
    instance_id: idSchema,
    endpoint: endpointSchema,
    key_id: idSchema,
  },
} as const;
const routeStates = ["active", "withdrawn", "unexposed"] as const;

type InstanceParams = { project_id: string; instance_id: string };
type EndpointParams = InstanceParams & { endpoint: string };
type KeyParams = EndpointParams & { key_id: string };

/** The JWKS at the site root (`/.well-known/jwks.json`), outside the `/api/v1` prefix. */
export function registerJwksRoute(app: FastifyInstance, context: AppContext): void {
  app.get(
    JWKS_PATH,
    {
      config: { permission: "public" },
      schema: {
        tags: ["ingress"],
        summary: "The public keys that verify X-Platform-Jwt-Assertion (ES256)",
        security: [],
        response: { 200: objectResponse },
      },
    },
    async (_request, reply) => {
      reply.header("cache-control", "public, max-age=300");
      return context.ingress.signer.jwks();
    },
  );
}

/** The managed-ingress routes under `/api/v1`. */
export function registerIngressRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;
  const runtime = context.ingress;
  const settings = runtime.settings;

  api.get<{ Querystring: { route: string } }>(
    "/ingress/forward-auth",
    {
      config: { permission: "public" },
      schema: {
        tags: ["ingress"],
        summary: "Forward auth for the edge: may this request reach this managed route?",
        description:
          "Called by the edge for every request to a managed route, websocket handshakes included, with the client's Host, Cookie and Authorization and X-Forwarded-Uri. 200 with X-Platform-User and X-Platform-Jwt-Assertion when allowed; browser routes answer 302 to the console's sign-in (or, on /.gpuaas/session with a ticket, 302 back with the route's own host-only session cookie); API routes answer 401 with WWW-Authenticate and never redirect; 403 for callers who are not the route's subjects; 404 for an unknown route or host.",
        security: [],
        querystring: {
          type: "object",
          required: ["route"],
          properties: { route: { type: "string", minLength: 1, maxLength: 300 } },
        },
      },
    },
    async (request, reply) => {
      const header = (name: string): string | undefined => {
        const value = request.headers[name];
        return typeof value === "string" ? value : undefined;
      };
      const decision = await decideForwardAuth(
        db,
        runtime,
        {
          routeId: request.query.route,
          host: header("host"),
          uri: header("x-forwarded-uri"),
          cookie: header("cookie"),
          authorization: header("authorization"),
        },
        context.now(),
      );
      reply.header("cache-control", "no-store");
      if (decision.kind === "allow") {
        return reply.status(200).headers(decision.headers).send();
      }
      if (decision.kind === "redirect") {
        if (decision.setCookie !== undefined) reply.header("set-cookie", decision.setCookie);
        return reply.status(302).header("location", decision.location).send();
      }
      if (decision.wwwAuthenticate !== undefined) {
        reply.header("www-authenticate", decision.wwwAuthenticate);
      }
      return reply.status(decision.status).send({
        code: decision.code,
        message: decision.message,
        correlation_id: request.id,
      });
    },
  );

  api.post<{ Body: { rd: string } }>(
    "/ingress/tickets",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["ingress"],
        summary: "Sign in to a browser route: a one-time ticket for the route's host",
        description: `The console's sign-in page (${SIGN_IN_PATH}?rd=…) calls this with the signed-in user's session and the original URL the edge sent the browser away from. The answer's redirect_url takes the browser to ${AUTH_CALLBACK_PATH} on the route's own host, where the ticket (one use, ${TICKET_TTL_MS / 1000} s) becomes that host's own session cookie. 403 when the user may not reach the route; 404 when no running instance serves the URL's host.`,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["rd"],
          properties: { rd: { type: "string", minLength: 1, maxLength: 4096 } },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (principal?.kind !== "user") {
        throw new ApiError(
          "auth.session_needs_user",
          "only a signed-in user can open a browser route; service accounts call API routes with a bearer token",
        );
      }
      const target = parseRouteUrl(request.body.rd, settings);
      const route = await findActiveRouteByHost(db, target.host);
      if (route === undefined || route.intent === null) {
        throw new ApiError(
          "ingress.unknown_route",
          `no running instance serves ${target.host}; it may have stopped`,
        );
      }
      const intent = route.intent;
      if (intent.clientAuth !== "browser_oidc") {
        throw new ApiError(
          "ingress.not_a_browser_route",
          `${target.host} is an API endpoint: call it with Authorization: Bearer (a platform token or an API key of the endpoint)`,
        );
      }
      if (!(await mayReachRoute(db, intent, principal))) {
        throw new ApiError(
          "auth.forbidden",
          "you may not reach this endpoint: it is open to its owner (and, by policy, its project's members) only",
        );
      }
      const now = context.now();
      const ticket = await createIngressTicket(db, {
        route_id: intent.routeId,
        user_id: principal.user.id,
        parent_token_id: principal.token_id,
        ttl_ms: TICKET_TTL_MS,
        now,
      });
      await appendAudit(db, {
        actor: toActor(principal),
        action: "ingress.sign_in",
        target: `route:${intent.routeId}`,
        project_id: intent.projectId,
        correlation_id: request.id,
        data: { public_host: intent.publicHost },
      });
      const origin = toPublicOrigin(intent.publicHost, settings);
      const query = new URLSearchParams({ ticket: ticket.plaintext, rd: target.path });
      return reply
        .status(201)
        .header("cache-control", "no-store")
        .send({
          redirect_url: `${origin}${AUTH_CALLBACK_PATH}?${query.toString()}`,
          route_id: intent.routeId,
          public_host: intent.publicHost,
          expires_at: ticket.expires_at,
        });
    },
  );

  api.get<{ Params: InstanceParams }>(
    "/projects/:project_id/app-instances/:instance_id/endpoints",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances", "ingress"],
        summary:
          "An instance's endpoints: the managed URL, or why there is none and the SSH tunnel",
        params: instanceParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const instance = await loadInstance(db, request.params);
      return { items: await describeEndpoints(db, instance, context), next_cursor: null };
    },
  );

  api.get<{
    Params: { project_id: string };
    Querystring: { instance_id?: string; state?: (typeof routeStates)[number] };
  }>(
    "/projects/:project_id/routes",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["ingress"],
        summary: "The project's managed routes, with their edge status",
        params: {
          type: "object",
          additionalProperties: false,
          required: ["project_id"],
          properties: { project_id: idSchema },
        },
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            instance_id: idSchema,
            state: { type: "string", enum: [...routeStates] },
          },
        },
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const routes = await listRouteIntents(db, {
        project_id: request.params.project_id,
        ...(request.query.instance_id !== undefined
          ? { instance_id: request.query.instance_id }
          : {}),
        ...(request.query.state !== undefined ? { states: [request.query.state] } : {}),
      });
      return { items: routes.map((route) => toRouteView(route, context)), next_cursor: null };
    },
  );

  api.get<{ Querystring: { state?: (typeof routeStates)[number] } }>(
    "/routes",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["ingress"],
        summary: "Every managed route of the platform, with its edge status",
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { state: { type: "string", enum: [...routeStates] } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const routes = await listRouteIntents(
        db,
        request.query.state !== undefined ? { states: [request.query.state] } : {},
      );
      return {
        edge: {
          driven: runtime.edge !== undefined,
          pending: routes.filter((route) => !route.edge.in_sync).length,
        },
        items: routes.map((route) => toRouteView(route, context)),
        next_cursor: null,
      };
    },
  );

  /** The endpoint of an instance's profile that takes API keys, or a refusal. */
  async function loadApiEndpoint(
    params: EndpointParams,
  ): Promise<{ readonly instance: Instance; readonly endpoint: string }> {
    const instance = await loadInstance(db, params);
    const version = await getAppVersionById(db, instance.app_version_id);
    const endpoint = version?.profile.network.endpoints.find(
      (item) => item.name === params.endpoint,
    );
    if (endpoint === undefined) {
      throw new ApiError(
        "resource.not_found",
        `${instance.app_slug} has no endpoint "${params.endpoint}"`,
      );
    }
    if (
      !endpoint.managed_ingress.enabled ||
      endpoint.managed_ingress.client_auth_mode !== "api_bearer"
    ) {
      throw new ApiError(
        "ingress.api_keys_unsupported",
        `endpoint "${endpoint.name}" is not an API route of the platform edge: API keys are for managed endpoints with client_auth_mode api_bearer`,
      );
    }
    return { instance, endpoint: endpoint.name };
  }

  api.post<{ Params: EndpointParams; Body: { name?: string; expires_in_days?: number } }>(
    "/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["ingress"],
        summary: "Create an API key for one API endpoint of an instance (shown once)",
        description:
          "The key acts for its creator on this endpoint only: send it as Authorization: Bearer to the endpoint's managed URL. The edge removes it before the request reaches the workload. Only its SHA-256 is kept.",
        params: endpointParams,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            name: { type: "string", minLength: 1, maxLength: 128 },
            expires_in_days: { type: "integer", minimum: 1, maximum: 3650 },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { instance, endpoint } = await loadApiEndpoint(request.params);
      const principal = request.principal;
      if (principal === undefined) throw new Error("api-key route reached without a principal");
      const now = context.now();
      const days = request.body?.expires_in_days;
      const created = await createEndpointApiKey(db, {
        instance_id: instance.id,
        project_id: instance.project_id,
        endpoint_name: endpoint,
        name: request.body?.name ?? `${endpoint} key`,
        owner:
          principal.kind === "user"
            ? { kind: "user", user_id: principal.user.id }
            : { kind: "service_account", service_account_id: principal.service_account.id },
        expires_at: days === undefined ? null : new Date(now.getTime() + days * 86_400_000),
      });
      await appendAudit(db, {
        actor: toActor(principal),
        action: "ingress.api_key_create",
        target: `endpoint_api_key:${created.key.id}`,
        project_id: instance.project_id,
        correlation_id: request.id,
        data: { instance_id: instance.id, endpoint, fingerprint: created.key.fingerprint },
      });
      return reply
        .status(201)
        .header("cache-control", "no-store")
        .send({ ...created.key, key: created.plaintext });
    },
  );

  api.get<{ Params: EndpointParams }>(
    "/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["ingress"],
        summary: "List an endpoint's API keys (metadata only; revoked ones included)",
        params: endpointParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { instance, endpoint } = await loadApiEndpoint(request.params);
      const keys = await listEndpointApiKeys(db, {
        instance_id: instance.id,
        endpoint_name: endpoint,
      });
      return { items: keys, next_cursor: null };
    },
  );

  api.post<{ Params: KeyParams }>(
    "/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys/:key_id/rotate",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["ingress"],
        summary: "Rotate an API key: a new secret (shown once); the old one stops working at once",
        params: keyParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { instance, endpoint } = await loadApiEndpoint(request.params);
      const rotated = await rotateEndpointApiKey(db, {
        id: request.params.key_id,
        instance_id: instance.id,
        endpoint_name: endpoint,
        now: context.now(),
      });
      if (rotated === undefined) {
        throw new ApiError(
          "resource.not_found",
          `no active API key ${request.params.key_id} on this endpoint`,
        );
      }
      await appendAudit(db, {
        actor: toActor(request.principal),
        action: "ingress.api_key_rotate",
        target: `endpoint_api_key:${rotated.key.id}`,
        project_id: instance.project_id,
        correlation_id: request.id,
        data: { instance_id: instance.id, endpoint, fingerprint: rotated.key.fingerprint },
      });
      return reply
        .header("cache-control", "no-store")
        .send({ ...rotated.key, key: rotated.plaintext });
    },
  );

  api.delete<{ Params: KeyParams }>(
    "/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys/:key_id",
    {
      config: { permission: "project.operate" },
      schema: {
        tags: ["ingress"],
        summary: "Revoke an API key",
        params: keyParams,
        response: { 204: { type: "null" }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { instance, endpoint } = await loadApiEndpoint(request.params);
      const revoked = await revokeEndpointApiKey(db, {
        id: request.params.key_id,
        instance_id: instance.id,
        endpoint_name: endpoint,
        now: context.now(),
      });
      if (revoked === undefined) {
        throw new ApiError(
          "resource.not_found",
          `no API key ${request.params.key_id} on this endpoint`,
        );
      }
      await appendAudit(db, {
        actor: toActor(request.principal),
        action: "ingress.api_key_revoke",
        target: `endpoint_api_key:${revoked.id}`,
        project_id: instance.project_id,
        correlation_id: request.id,
        data: { instance_id: instance.id, endpoint },
      });
      return reply.status(204).send();
    },
  );
}

/** The URL a ticket is asked for, checked against the edge's scheme and port. */
function parseRouteUrl(
  rd: string,
  settings: AppContext["ingress"]["settings"],
): { readonly host: string; readonly path: string } {
  let url: URL;
  try {
    url = new URL(rd);
  } catch {
    throw new ApiError("ingress.invalid_redirect", "rd is not an absolute URL");
  }
  const port = settings.publicPort === undefined ? "" : String(settings.publicPort);
  const path = `${url.pathname}${url.search}`;
  if (
    url.protocol !== `${settings.publicScheme}:` ||
    url.username !== "" ||
    url.password !== "" ||
    url.port !== port ||
    !isLocalPath(path)
  ) {
    throw new ApiError(
      "ingress.invalid_redirect",
      `rd must be a ${settings.publicScheme} URL of a managed endpoint${port === "" ? "" : ` on port ${port}`}`,
    );
  }
  return { host: url.hostname.toLowerCase(), path };
}

async function loadInstance(db: StoreDb, params: InstanceParams): Promise<Instance> {
  const instance = await getInstance(db, params.instance_id, { project_id: params.project_id });
  if (instance === undefined) {
    throw new ApiError("resource.not_found", `no instance ${params.instance_id} in this project`);
  }
  return instance;
}

/** A route as the API shows it: the stored row plus its managed URL. */
function toRouteView(route: StoredRoute, context: AppContext): JsonObject {
  const intent = route.intent;
  return {
    ...(route as unknown as JsonObject),
    url:
      intent === null
        ? null
        : toOpenUrl(intent, toPublicOrigin(intent.publicHost, context.ingress.settings)),
  };
}

/**
 * Each endpoint of an instance's profile: its managed URL while a route serves it, else the
 * reason it has none (`ingress.*`), and for endpoints without a route the SSH tunnel to the
 * loopback port the node publishes it on.
 */
async function describeEndpoints(
  db: StoreDb,
  instance: Instance,
  context: AppContext,
): Promise<JsonObject[]> {
  const settings = context.ingress.settings;
  const version = await getAppVersionById(db, instance.app_version_id);
  const endpoints = version?.profile.network.endpoints ?? [];
  const routes = new Map(
    (await listRouteIntents(db, { instance_id: instance.id })).map((route) => [
      route.endpoint_name,
      route,
    ]),
  );
  const members = await listInstanceMembers(db, instance.id);
  const node = await getAllocationNode(db, instance.target_allocation_id);
  const sshHost = node?.hostname ?? node?.name ?? "<node>";
  const resolved = Array.isArray(instance.resolved_values.endpoints)
    ? instance.resolved_values.endpoints
    : [];
  // What the routes would be were the instance running now: the reason for the others.
  const prospective = new Map<string, UnexposedEndpoint | RouteIntent>();
  if (version !== undefined) {
    const exposed = resolved.flatMap((item) =>
      typeof item === "object" &&
      item !== null &&
      !Array.isArray(item) &&
      item.managed_ingress === true &&
      typeof item.name === "string"
        ? [item.name]
        : [],
    );
    const derived = deriveRouteIntents({
      profile: version.profile,
      instance: {
        id: instance.id,
        short_id: toShortId(instance.id),
        project_id: instance.project_id,
        owner_user_id: toOwnerSubject(instance.created_by),
        app_slug: instance.app_slug,
      },
      upstream: Object.fromEntries(
        endpoints.map((endpoint) => [
          endpoint.name,
          { host: DEFAULT_NODE_ADDRESS, port: endpoint.port },
        ]),
      ),
      hostMap: settings.hostMap,
      ...(settings.domain !== undefined ? { domain: settings.domain } : {}),
      access: settings.access,
      ...(resolved.length > 0 ? { exposedEndpoints: exposed } : {}),
    });
    for (const intent of derived.intents) prospective.set(intent.endpointName, intent);
    for (const item of derived.unexposed) prospective.set(item.endpoint, item);
  }
  return endpoints.map((endpoint, index): JsonObject => {
    const route = routes.get(endpoint.name);
    const intent = route?.state === "active" ? route.intent : null;
    const resolvedEndpoint = resolved[index];
    const chosenPort =
      typeof resolvedEndpoint === "object" &&
      resolvedEndpoint !== null &&
      !Array.isArray(resolvedEndpoint) &&
      typeof resolvedEndpoint.host_port === "number"
        ? resolvedEndpoint.host_port
        : undefined;
    const memberPort =
      index === 0 ? members.find((member) => member.host_port !== null)?.host_port : undefined;
    const hostPort = route?.intent?.upstream.port ?? memberPort ?? chosenPort;
    let notExposed: JsonObject | null = null;
    if (intent === null) {
      const would = prospective.get(endpoint.name);
      notExposed =
        route?.state === "unexposed" && route.reason !== null
          ? { ...route.reason }
          : would !== undefined && "code" in would
            ? { code: would.code, message: would.message }
            : {
                code: "ingress.instance_not_running",
                message: `the managed route exists while the instance runs; it is ${instance.state}`,
              };
    }
    const openPath = endpoint.managed_ingress.default_open_path || "/";
    return {
      name: endpoint.name,
      type: endpoint.type,
      container_port: endpoint.port,
      host_port: hostPort ?? null,
      auth_pattern: endpoint.auth_pattern,
      client_auth: endpoint.managed_ingress.enabled
        ? endpoint.managed_ingress.client_auth_mode
        : null,
      exposure: intent !== null ? "managed_ingress" : "private",
      managed:
        intent === null || route === undefined
          ? null
          : {
              route_id: intent.routeId,
              public_host: intent.publicHost,
              url: toOpenUrl(intent, toPublicOrigin(intent.publicHost, settings)),
              client_auth: intent.clientAuth,
              websocket: intent.websocket,
              route_family: intent.family,
              edge_in_sync: route.edge.in_sync,
            },
      not_exposed: notExposed,
      ssh_tunnel:
        intent !== null || hostPort === undefined || hostPort === null
          ? null
          : {
              command: `ssh -N -L ${hostPort}:127.0.0.1:${hostPort} ${sshHost}`,
              local_url: `http://127.0.0.1:${hostPort}${openPath.startsWith("/") ? openPath : `/${openPath}`}`,
            },
    };
  });
}
