import { request } from "node:http";
import {
  CADDY_ROUTE_ID_PREFIX,
  CADDY_SERVER_NAME,
  type CaddyConfig,
  type CaddyRoute,
} from "./render-caddy.js";

/** Stable codes of {@link CaddyAdminError}. */
export const CADDY_ADMIN_ERROR_CODES = [
  "caddy_admin.refused_endpoint",
  "caddy_admin.unreachable",
  "caddy_admin.rejected",
] as const;
/** One of {@link CADDY_ADMIN_ERROR_CODES}. */
export type CaddyAdminErrorCode = (typeof CADDY_ADMIN_ERROR_CODES)[number];

/** A failed admin call: the endpoint is refused, unreachable, or Caddy said no (`status`). */
export class CaddyAdminError extends Error {
  readonly code: CaddyAdminErrorCode;
  readonly status: number | undefined;
  constructor(code: CaddyAdminErrorCode, message: string, status?: number) {
    super(message);
    this.name = "CaddyAdminError";
    this.code = code;
    this.status = status;
  }
}

/** The slice of `fetch` the client uses. */
export type AdminFetch = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  },
) => Promise<{ readonly status: number; text(): Promise<string> }>;

/** Where and how to reach Caddy's admin API. */
export interface CaddyAdminOptions {
  /**
   * `http://127.0.0.1:<port>` (any 127.0.0.0/8 address, `[::1]` or `localhost`) or
   * `unix:<absolute socket path>`. Anything else is refused.
   */
  readonly endpoint: string;
  /**
   * A `fetch` for TCP endpoints instead of the built-in client. Caddy restarts its admin server
   * after every config change, which kills pooled keep-alive connections: the built-in client
   * opens one connection per call; with a pooling `fetch`, a GET is retried once.
   */
  readonly fetch?: AdminFetch;
  /** The edge's HTTP server name in the config; `gpuaas_edge` by default. */
  readonly serverName?: string;
  /** Longest one admin call may take; 10 s by default. */
  readonly timeoutMs?: number;
}

/** Caddy's admin API, limited to what the edge needs. Each route is addressed by its `@id`. */
export interface CaddyAdmin {
  /** Replaces the whole running config (`POST /load`). */
  load(config: CaddyConfig): Promise<void>;
  /** Adds one route before the 404 route, or replaces the route with the same `@id`. */
  addRoute(route: CaddyRoute): Promise<"added" | "replaced">;
  /** Removes one route by `@id` (`DELETE /id/<id>`); false when there was none. */
  removeRoute(id: string): Promise<boolean>;
  /** One route by `@id`, or undefined. */
  getRoute(id: string): Promise<CaddyRoute | undefined>;
  /** The routes the renderer made (their `@id` starts with `route-`), in config order. */
  listRoutes(): Promise<CaddyRoute[]>;
}

interface AdminReply {
  readonly status: number;
  readonly body: string;
}
type Transport = (method: string, path: string, body?: string) => Promise<AdminReply>;

/**
 * True when `endpoint` is an admin endpoint the client may use: loopback HTTP or a unix socket
 * (reference §8.14: the edge's admin API is never reachable from outside the host).
 */
export function isAllowedAdminEndpoint(endpoint: string): boolean {
  if (endpoint.startsWith("unix:")) return endpoint.slice("unix:".length).startsWith("/");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" || url.username !== "" || url.password !== "") return false;
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") return false;
  const host = url.hostname;
  if (host === "localhost" || host === "[::1]") return true;
  // URL normalizes IPv4 forms (e.g. 2130706433, 0x7f.1) to dotted decimal before this check.
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Creates an admin client. Throws {@link CaddyAdminError} `caddy_admin.refused_endpoint` for any
 * endpoint that is not loopback or a unix socket.
 *
 * @example
 * const admin = createCaddyAdmin({ endpoint: "unix:/run/gpuaas/caddy-admin.sock" });
 * await admin.addRoute(renderCaddyRoute(intent, options));
 */
export function createCaddyAdmin(options: CaddyAdminOptions): CaddyAdmin {
  if (!isAllowedAdminEndpoint(options.endpoint)) {
    throw new CaddyAdminError(
      "caddy_admin.refused_endpoint",
      `the Caddy admin endpoint must be loopback HTTP or a unix socket, not "${options.endpoint}"`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const transport = options.endpoint.startsWith("unix:")
    ? httpTransport({ socketPath: options.endpoint.slice("unix:".length) }, timeoutMs)
    : options.fetch !== undefined
      ? fetchTransport(options.endpoint.replace(/\/$/, ""), options.fetch, timeoutMs)
      : httpTransport(toTcpTarget(options.endpoint), timeoutMs);
  const routesPath = `/config/apps/http/servers/${encodeURIComponent(options.serverName ?? CADDY_SERVER_NAME)}/routes`;

  async function call(method: string, path: string, body?: unknown): Promise<AdminReply> {
    const reply = await transport(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (reply.status >= 200 && reply.status < 300) return reply;
    throw new CaddyAdminError(
      "caddy_admin.rejected",
      `Caddy admin ${method} ${path} answered ${reply.status}: ${toErrorText(reply.body)}`,
      reply.status,
    );
  }

  async function getRoute(id: string): Promise<CaddyRoute | undefined> {
    try {
      const reply = await call("GET", `/id/${encodeURIComponent(id)}`);
      return JSON.parse(reply.body) as CaddyRoute;
    } catch (error) {
      if (isUnknownId(error)) return undefined;
      throw error;
    }
  }

  return {
    async load(config) {
      await call("POST", "/load", config);
    },
    async addRoute(route) {
      const id = route["@id"];
      if (id === undefined || id === "") {
        throw new CaddyAdminError(
          "caddy_admin.rejected",
          "a route needs an @id to be managed alone",
        );
      }
      if ((await getRoute(id)) !== undefined) {
        await call("PATCH", `/id/${encodeURIComponent(id)}`, route);
        return "replaced";
      }
      // PUT on an array index inserts there: index 0 keeps the 404 route last.
      await call("PUT", `${routesPath}/0`, route);
      return "added";
    },
    async removeRoute(id) {
      try {
        await call("DELETE", `/id/${encodeURIComponent(id)}`);
        return true;
      } catch (error) {
        if (isUnknownId(error)) return false;
        throw error;
      }
    },
    getRoute,
    async listRoutes() {
      const reply = await call("GET", routesPath);
      const routes = JSON.parse(reply.body) as CaddyRoute[] | null;
      return (routes ?? []).filter((route) => route["@id"]?.startsWith(CADDY_ROUTE_ID_PREFIX));
    },
  };
}

// Caddy answers an unknown @id with 404 (or, on some versions, 400/500 naming the id).
function isUnknownId(error: unknown): boolean {
  return (
    error instanceof CaddyAdminError &&
    error.code === "caddy_admin.rejected" &&
    (error.status === 404 || /unknown object ID/i.test(error.message))
  );
}

function toErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") return parsed.error;
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 500);
}

function fetchTransport(base: string, doFetch: AdminFetch, timeoutMs: number): Transport {
  const once = async (method: string, path: string, body?: string): Promise<AdminReply> => {
    const response = await doFetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: await response.text() };
  };
  return async (method, path, body) => {
    try {
      return await once(method, path, body);
    } catch (first) {
      // Only a GET is safe to repeat; a change may have reached Caddy before the socket died.
      if (method === "GET") {
        try {
          return await once(method, path, body);
        } catch {
          // report the first failure below
        }
      }
      throw new CaddyAdminError(
        "caddy_admin.unreachable",
        `Caddy admin at ${base} is unreachable: ${(first as Error).message}`,
      );
    }
  };
}

type HttpTarget =
  | { readonly socketPath: string }
  | { readonly host: string; readonly port: number };

function toTcpTarget(endpoint: string): HttpTarget {
  const url = new URL(endpoint);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 80 : Number(url.port),
  };
}

// One connection per call (no agent): Caddy closes admin connections when it applies a change.
function httpTransport(target: HttpTarget, timeoutMs: number): Transport {
  const where =
    "socketPath" in target ? `unix:${target.socketPath}` : `${target.host}:${target.port}`;
  return (method, path, body) =>
    new Promise<AdminReply>((resolve, reject) => {
      const headers: Record<string, string> = {};
      // Caddy accepts only an empty Host on a unix socket, and its own address on TCP.
      if ("socketPath" in target) headers.Host = "";
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = String(Buffer.byteLength(body));
      }
      const req = request(
        {
          ...target,
          path,
          method,
          headers,
          agent: false,
          setHost: !("socketPath" in target),
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.on("error", (error) => reject(unreachable(where, error)));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (error) => reject(unreachable(where, error)));
      req.end(body);
    });
}

function unreachable(where: string, error: Error): CaddyAdminError {
  return new CaddyAdminError(
    "caddy_admin.unreachable",
    `Caddy admin at ${where} is unreachable: ${error.message}`,
  );
}
