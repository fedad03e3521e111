import { Agent, request as httpRequest, type IncomingMessage } from "node:http";

/** The libpod API version the agent speaks (podman 4.0 and later serve it). */
export const LIBPOD_API_PREFIX = "/v4.0.0/libpod";

/** One request to the libpod API. */
export interface LibpodRequest {
  readonly method: "GET" | "POST" | "DELETE";
  /** Path after the `/v4.0.0/libpod` prefix, segments already encoded. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Bytes of the answer kept; the rest is not read (`truncated`). Default 8 MiB. */
  readonly maxBytes?: number;
  /**
   * Receives the answer's body chunk by chunk instead of buffering it (streams: pull, logs,
   * exec); returning false stops reading.
   */
  readonly onChunk?: (chunk: Buffer) => boolean;
  /** The request changes nothing: safe to send again when a kept-alive connection was stale. */
  readonly idempotent?: boolean;
}

/** The answer: status and (unless streamed) body. */
export interface LibpodResponse {
  readonly status: number;
  readonly body: Buffer;
  /** Reading stopped early: the bound was reached or `onChunk` said stop. */
  readonly truncated: boolean;
}

/** Why a request got no answer: the socket is not there, the connection broke, or time ran out. */
export type LibpodTransportFailure = "unreachable" | "reset" | "timeout";

/** A request that got no HTTP answer (as opposed to an answer with an error status). */
export class LibpodTransportError extends Error {
  override readonly name = "LibpodTransportError";
  constructor(
    readonly failure: LibpodTransportFailure,
    /** The system error code (`ENOENT`, `ECONNREFUSED`, `ECONNRESET`…), when there was one. */
    readonly code: string | undefined,
    /** The request went out on a kept-alive connection from an earlier request. */
    readonly reusedSocket = false,
  ) {
    super(
      failure === "timeout"
        ? "the podman API did not answer in time"
        : `the podman API ${failure === "unreachable" ? "is not reachable" : "closed the connection"}${code !== undefined ? ` (${code})` : ""}`,
    );
  }
}

/** Requests to one libpod socket over kept-alive connections. */
export interface LibpodClient {
  readonly socketPath: string;
  request(request: LibpodRequest): Promise<LibpodResponse>;
  /** Closes the kept-alive connections. */
  close(): void;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const UNREACHABLE = new Set(["ENOENT", "ECONNREFUSED", "ENOTSOCK", "EACCES"]);

/**
 * Renders a request's path and query string.
 *
 * @example
 * toLibpodPath("/containers/json", { all: true }) // "/v4.0.0/libpod/containers/json?all=true"
 */
export function toLibpodPath(
  path: string,
  query: Readonly<Record<string, string | number | boolean | undefined>> = {},
): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.set(key, String(value));
  }
  const search = params.toString();
  return `${LIBPOD_API_PREFIX}${path}${search.length > 0 ? `?${search}` : ""}`;
}

function send(agent: Agent, socketPath: string, request: LibpodRequest): Promise<LibpodResponse> {
  const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
  const max = request.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const req = httpRequest({
      socketPath,
      agent,
      method: request.method,
      path: toLibpodPath(request.path, request.query),
      headers: {
        host: "podman",
        accept: "application/json",
        ...(body !== undefined
          ? { "content-type": "application/json", "content-length": String(body.length) }
          : {}),
        ...request.headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      fail(new LibpodTransportError("timeout", undefined));
    }, request.timeoutMs);
    req.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code;
      const failure: LibpodTransportFailure =
        code !== undefined && UNREACHABLE.has(code) ? "unreachable" : "reset";
      fail(new LibpodTransportError(failure, code, req.reusedSocket));
    });
    req.once("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const stop = (): void => {
        truncated = true;
        res.destroy();
        done();
      };
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        // A connection that broke mid-answer leaves it incomplete: say so rather than pass it off.
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          truncated: truncated || !res.complete,
        });
      };
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        if (request.onChunk !== undefined && (res.statusCode ?? 0) < 300) {
          if (!request.onChunk(chunk)) stop();
          return;
        }
        const room = max - size;
        chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
        size += Math.min(room, chunk.length);
        if (chunk.length >= room) stop();
      });
      res.once("end", done);
      // A hijacked stream (exec start) ends when the server closes the connection.
      res.once("close", done);
      res.once("error", () => done());
    });
    req.end(body);
  });
}

/**
 * A client of the libpod REST API on a unix socket, with a kept-alive connection pool (a request
 * costs a few milliseconds instead of a process start) and a timeout on every request.
 *
 * @example
 * const client = createLibpodClient("/run/gpuaas/podman.sock");
 * (await client.request({ method: "GET", path: "/_ping", timeoutMs: 1_000 })).status // 200
 */
export function createLibpodClient(socketPath: string): LibpodClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, maxFreeSockets: 4 });
  return {
    socketPath,
    async request(request) {
      try {
        return await send(agent, socketPath, request);
      } catch (error) {
        // Node's own advice: a kept-alive connection the server had closed fails at once;
        // sending an idempotent request again on a fresh connection is safe.
        const stale =
          error instanceof LibpodTransportError && error.failure === "reset" && error.reusedSocket;
        if (stale && request.idempotent === true) return send(agent, socketPath, request);
        throw error;
      }
    },
    close() {
      agent.destroy();
    },
  };
}
