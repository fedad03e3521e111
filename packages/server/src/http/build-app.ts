import { randomUUID } from "node:crypto";
import swagger from "@fastify/swagger";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { createIngressRuntime, type IngressRuntime } from "../ingress/ingress-runtime.js";
import { authenticateToken, isStoreError, type Store, toLogIdentity } from "../store/index.js";
import type { Principal } from "../store/types.js";
import { API_ERRORS, ApiError, type ApiErrorBody, isApiError } from "./api-error.js";
import { authenticateMachine, refuseNodeCredential } from "./authenticate-agent.js";
import { authorize, isMachinePermission, type Permission } from "./authorize.js";
import { registerAgentRoutes } from "./routes/agent-routes.js";
import { registerAllocationRoutes } from "./routes/allocation-routes.js";
import { registerArtifactRoutes } from "./routes/artifact-routes.js";
import { registerAuditRoutes } from "./routes/audit-routes.js";
import { registerCatalogRoutes } from "./routes/catalog-routes.js";
import { registerIamRoutes } from "./routes/iam-routes.js";
import { registerIngressRoutes, registerJwksRoute } from "./routes/ingress-routes.js";
import { registerInstanceLogRoutes } from "./routes/instance-log-routes.js";
import { registerInstanceRoutes } from "./routes/instance-routes.js";
import { registerRegistryTokenRoutes } from "./routes/registry-token-routes.js";
import { registerSessionRoutes } from "./routes/session-routes.js";
import type { ServerConfig } from "./server-config.js";
import { CSRF_HEADER, readSessionCookie } from "./session-cookie.js";
import { registerWebConsole } from "./web-console.js";

/** How long closing the app waits for open requests before it cuts their connections. */
export const CLOSE_GRACE_MS = 2_000;

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated caller; set for every route whose permission is not `public`. */
    principal?: Principal;
    /** How the caller authenticated: a bearer token, or the browser session cookie. */
    authenticatedBy?: "bearer" | "session";
  }
  interface FastifyContextConfig {
    permission?: Permission;
  }
  interface FastifyInstance {
    /** Managed ingress of this app (settings, signer, edge applier). */
    readonly ingress: IngressRuntime;
  }
}

/** What route modules get: the store, the configuration and a clock (tests pass their own). */
export interface AppContext {
  readonly store: Store;
  readonly config: ServerConfig;
  readonly now: () => Date;
  /** Managed ingress: settings, the assertion signer and the edge applier. */
  readonly ingress: IngressRuntime;
}

/** Options of {@link buildApp}. */
export interface BuildAppOptions {
  readonly store: Store;
  readonly config: ServerConfig;
  readonly now?: () => Date;
  /** A pino destination for the logs (tests capture them); stdout by default. */
  readonly logStream?: { write(line: string): void };
  /** The built web console (`packages/web/dist`) served at `/`; see web-console.ts. */
  readonly webConsoleDir?: string;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The bearer token of a request, if it sent one in the `Authorization` header. */
function readBearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const match = /^Bearer ([^\s]+)$/i.exec(header.trim());
  return match?.[1];
}

/**
 * Builds the control plane's HTTP API under `/api/v1`: JSON everywhere, one error body, a
 * correlation id on every response, every route authorised, and an OpenAPI 3.1 document generated
 * from the route schemas at `/api/v1/openapi.json`.
 */
export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const now = options.now ?? (() => new Date());
  const app = Fastify({
    logger: {
      level: options.config.log_level,
      // Logs name callers as token:<fp6> only; headers and bodies are never logged.
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: request.url.split("?")[0] ?? "",
        }),
      },
      ...(options.logStream !== undefined ? { stream: options.logStream } : {}),
    },
    bodyLimit: options.config.body_limit_bytes,
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: "correlation_id" }),
    genReqId: (request) => {
      const given = request.headers["x-correlation-id"];
      return typeof given === "string" && CORRELATION_ID.test(given) ? given : randomUUID();
    },
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        allErrors: true,
        useDefaults: true,
      },
    },
    return503OnClosing: true,
  });

  const context: AppContext = {
    store: options.store,
    config: options.config,
    now,
    ingress: createIngressRuntime(app, { config: options.config, store: options.store, now }),
  };

  app.decorate("ingress", context.ingress);

  // Closing waits for open requests, but only for so long: a long poll that began a moment before
  // (the agent's) or a client that never finishes its request is cut after the grace period.
  app.addHook("preClose", async () => {
    setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });

  // JSON only: without this, a text/plain body would be parsed as a string.
  app.removeContentTypeParser(["text/plain"]);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "gpuaas control plane",
        version: "1.0.0",
        description: "Launchable OCI workloads on GPU allocations.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook("onRoute", (route) => {
    if (route.config?.permission === undefined) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no permission`);
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-correlation-id", request.id);
    const permission = request.routeOptions.config.permission;
    if (permission === undefined || permission === "public") return;
    // Node agents and registry clients prove machine credentials, never user tokens.
    if (isMachinePermission(permission)) {
      return authenticateMachine(context, request, reply, permission);
    }
    const bearer = readBearer(request);
    const session = bearer === undefined ? readSessionCookie(request) : undefined;
    const token = bearer ?? session;
    if (token === undefined) {
      throw new ApiError("auth.missing_token", "send a bearer token in the Authorization header");
    }
    const principal = await authenticateToken(context.store.db, token, context.now());
    if (principal === undefined) {
      if (bearer !== undefined) await refuseNodeCredential(context, bearer);
      throw new ApiError("auth.invalid_token", "the bearer token is unknown, revoked or expired");
    }
    // A browser session cookie is sent by the browser on its own; a state-changing request must
    // also carry a header no cross-site form or image can set, so it cannot be forged.
    if (
      session !== undefined &&
      !SAFE_METHODS.has(request.method) &&
      request.headers[CSRF_HEADER] !== "1"
    ) {
      throw new ApiError(
        "auth.csrf_required",
        `a browser session must send the ${CSRF_HEADER}: 1 header`,
      );
    }
    request.principal = principal;
    request.authenticatedBy = session !== undefined ? "session" : "bearer";
    request.log = request.log.child({ identity: toLogIdentity(principal.fingerprint) });
    reply.log = request.log;
    const params = request.params as Record<string, string | undefined> | undefined;
    await authorize(context.store.db, principal, permission, params);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    reply.header("x-correlation-id", request.id);
    const body: ApiErrorBody = {
      code: "request.not_found",
      message: `no route ${request.method} ${request.url.split("?")[0]}`,
      correlation_id: request.id,
    };
    return reply.status(404).send(body);
  });

  app.get(
    "/api/v1/healthz",
    { config: { permission: "public" }, schema: { hide: true } },
    async () => ({ status: "ok" }),
  );
  app.get(
    "/api/v1/openapi.json",
    { config: { permission: "public" }, schema: { hide: true } },
    async () => app.swagger(),
  );

  await app.register(
    async (api) => {
      registerSessionRoutes(api, context);
      registerCatalogRoutes(api, context);
      registerIamRoutes(api, context);
      registerArtifactRoutes(api, context);
      registerAllocationRoutes(api, context);
      registerInstanceRoutes(api, context);
      registerAuditRoutes(api, context);
      registerInstanceLogRoutes(api, context);
      registerAgentRoutes(api, context);
      registerRegistryTokenRoutes(api, context);
      registerIngressRoutes(api, context);
    },
    { prefix: "/api/v1" },
  );
  registerJwksRoute(app, context);
  await registerWebConsole(app, { distDir: options.webConsoleDir });
  return app;
}

function sendError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  reply.header("x-correlation-id", request.id);
  const body = toErrorBody(error, request.id);
  const status = isApiError(error)
    ? error.status
    : isStoreError(error)
      ? error.status
      : body.code === "internal"
        ? 500
        : API_ERRORS[body.code as keyof typeof API_ERRORS];
  if (status >= 500) request.log.error({ err: error }, "request failed");
  if (body.code === "auth.missing_token" || body.code === "auth.invalid_token") {
    reply.header("www-authenticate", 'Bearer realm="gpuaas"');
  }
  return reply.status(status).send(body);
}

/** Maps any error to the one error body; only ApiError and StoreError messages reach a client. */
function toErrorBody(error: FastifyError, correlationId: string): ApiErrorBody {
  if (isApiError(error)) {
    return {
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
      ...(error.issues !== undefined
        ? { issues: error.issues.map(({ pointer, code, message }) => ({ pointer, code, message })) }
        : {}),
      correlation_id: correlationId,
    };
  }
  if (isStoreError(error)) {
    return {
      code: error.code,
      message: error.message,
      ...(error.details !== undefined ? { details: error.details } : {}),
      correlation_id: correlationId,
    };
  }
  if (error.validation !== undefined) {
    const part = error.validationContext ?? "body";
    return {
      code: "request.invalid",
      message: `the request ${part} does not match the API`,
      issues: error.validation.map((item) => {
        const params = item.params as Record<string, unknown>;
        const key = params.missingProperty ?? params.additionalProperty;
        const pointer = `${item.instancePath}${key !== undefined ? `/${String(key)}` : ""}`;
        const message =
          params.additionalProperty !== undefined
            ? `unknown field "${String(params.additionalProperty)}"`
            : (item.message ?? "is invalid");
        return { pointer: `/${part}${pointer}`, code: `request.${item.keyword}`, message };
      }),
      correlation_id: correlationId,
    };
  }
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        code: "request.body_too_large",
        message: "the request body is larger than the server accepts",
        correlation_id: correlationId,
      };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return {
        code: "request.unsupported_media_type",
        message: "send the body as application/json",
        correlation_id: correlationId,
      };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return {
        code: "request.malformed_json",
        message: "the body is not valid JSON",
        correlation_id: correlationId,
      };
    default:
      break;
  }
  if (error instanceof SyntaxError || (error.statusCode === 400 && /JSON/i.test(error.message))) {
    return {
      code: "request.malformed_json",
      message: "the body is not valid JSON",
      correlation_id: correlationId,
    };
  }
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    return {
      code: "request.invalid",
      message: "the request cannot be processed",
      correlation_id: correlationId,
    };
  }
  return {
    code: "internal",
    message: "an internal error occurred; quote the correlation id when reporting it",
    correlation_id: correlationId,
  };
}
