// Sends one request to the edge on 127.0.0.1 with any Host header (fetch cannot set Host).
import { type IncomingHttpHeaders, request } from "node:http";

/** The edge's answer. */
export interface EdgeResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request through the edge as a browser on `port` sends it (`Host: host:port`); no keep-alive. */
export function sendToEdge(options: {
  port: number;
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  timeoutMs?: number;
}): Promise<EdgeResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: options.port,
        path: options.path,
        method: options.method ?? "GET",
        agent: false,
        timeout: options.timeoutMs ?? 10_000,
        headers: { Host: `${options.host}:${options.port}`, ...options.headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}
