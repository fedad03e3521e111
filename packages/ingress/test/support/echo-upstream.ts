// The workload behind the edge in the tests: an HTTP server on 127.0.0.1 that answers every
// request with what it received (method, URL, headers, body digest), and a websocket endpoint
// that first sends the handshake's headers, then echoes each text frame.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { acceptWebSocket, decodeFrames, encodeFrame } from "./websocket.js";

/** What the upstream received for one request. */
export interface EchoedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
  readonly bodySha256: string;
}

/** A running echo upstream. */
export interface EchoUpstream {
  readonly port: number;
  /** Every request and handshake it received, in order. */
  readonly received: EchoedRequest[];
  close(): Promise<void>;
}

/** Starts the echo upstream on a free 127.0.0.1 port. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const received: EchoedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const hash = createHash("sha256");
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    req.on("end", () => {
      const echoed: EchoedRequest = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyLength: length,
        bodySha256: hash.digest("hex"),
      };
      received.push(echoed);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(echoed));
    });
  });
  server.on("upgrade", (req, socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const key = req.headers["sec-websocket-key"];
    if (typeof key !== "string") {
      socket.destroy();
      return;
    }
    const echoed: EchoedRequest = {
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      bodyLength: 0,
      bodySha256: "",
    };
    received.push(echoed);
    acceptWebSocket(key, socket);
    socket.write(encodeFrame(JSON.stringify(echoed), false));
    let buffer: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const { frames, rest } = decodeFrames(buffer);
      buffer = rest;
      for (const frame of frames) {
        if (frame.opcode === 0x8) socket.end();
        else if (frame.opcode === 0x1) socket.write(encodeFrame(`echo:${frame.text}`, false));
      }
    });
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    received,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
