// A minimal RFC 6455 websocket: the handshake and text frames, enough for the edge tests and no
// dependency. Server frames are unmasked, client frames masked (RFC 6455 §5.3).
import { createHash, randomBytes } from "node:crypto";
import { type IncomingHttpHeaders, request } from "node:http";
import type { Socket } from "node:net";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;

/** The `Sec-WebSocket-Accept` value for a key. */
export function toAcceptKey(key: string): string {
  return createHash("sha1").update(`${key}${GUID}`).digest("base64");
}

/** Encodes one text frame, masked when a client sends it. */
export function encodeFrame(text: string, masked: boolean, opcode = OPCODE_TEXT): Buffer {
  const payload = Buffer.from(text, "utf8");
  const length = payload.length;
  const header: number[] = [0x80 | opcode];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) header.push(maskBit | length);
  else if (length < 65536) header.push(maskBit | 126, length >> 8, length & 0xff);
  else throw new RangeError("frames over 64 KiB are not needed here");
  if (!masked) return Buffer.concat([Buffer.from(header), payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from(header), mask, body]);
}

/** Splits complete frames off `buffer`; returns them and the unparsed rest. */
export function decodeFrames(buffer: Buffer): {
  frames: { opcode: number; text: string; payload: Buffer }[];
  rest: Buffer;
} {
  const frames: { opcode: number; text: string; payload: Buffer }[] = [];
  let offset = 0;
  while (buffer.length - offset >= 2) {
    const opcode = (buffer[offset] ?? 0) & 0x0f;
    const second = buffer[offset + 1] ?? 0;
    const masked = (second & 0x80) !== 0;
    let length = second & 0x7f;
    let at = offset + 2;
    if (length === 126) {
      if (buffer.length < at + 2) break;
      length = buffer.readUInt16BE(at);
      at += 2;
    } else if (length === 127) {
      throw new RangeError("64-bit frame lengths are not needed here");
    }
    const maskLength = masked ? 4 : 0;
    if (buffer.length < at + maskLength + length) break;
    const mask = buffer.subarray(at, at + maskLength);
    const payload = Buffer.from(buffer.subarray(at + maskLength, at + maskLength + length));
    if (masked)
      for (let i = 0; i < payload.length; i += 1)
        payload[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
    frames.push({ opcode, text: payload.toString("utf8"), payload });
    offset = at + maskLength + length;
  }
  return { frames, rest: buffer.subarray(offset) };
}

/** Completes the server side of a handshake on an upgraded socket. */
export function acceptWebSocket(key: string, socket: Socket): void {
  socket.write(
    [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${toAcceptKey(key)}`,
      "",
      "",
    ].join("\r\n"),
  );
}

/** An open client websocket: read the next text frame, send one, close. */
export interface WebSocketClient {
  next(timeoutMs?: number): Promise<string>;
  /** The status code of the close frame the peer sent, if it sent one. */
  closeCode(): number | undefined;
  send(text: string): void;
  close(): void;
}

/** The outcome of a client handshake: 101 and a socket, or the HTTP answer that refused it. */
export type HandshakeResult =
  | {
      readonly status: 101;
      readonly socket: WebSocketClient;
      readonly headers: IncomingHttpHeaders;
    }
  | { readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: string };

/** Opens a websocket through `127.0.0.1:port` with the given Host and headers. */
export function openWebSocket(options: {
  port: number;
  host: string;
  path: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}): Promise<HandshakeResult> {
  const key = randomBytes(16).toString("base64");
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: options.port,
      path: options.path,
      agent: false,
      timeout: options.timeoutMs ?? 5000,
      headers: {
        Host: `${options.host}:${options.port}`,
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": key,
        ...options.headers,
      },
    });
    req.on("timeout", () => req.destroy(new Error("websocket handshake timed out")));
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("upgrade", (res, socket, head) => {
      if (res.headers["sec-websocket-accept"] !== toAcceptKey(key)) {
        socket.destroy();
        reject(new Error("bad Sec-WebSocket-Accept"));
        return;
      }
      resolve({ status: 101, headers: res.headers, socket: toClient(socket, head) });
    });
    req.end();
  });
}

function toClient(socket: Socket, head: Buffer): WebSocketClient {
  let buffer: Buffer = Buffer.from(head);
  const queue: string[] = [];
  const waiters: ((text: string | Error) => void)[] = [];
  let closed = false;
  let peerCloseCode: number | undefined;
  const deliver = (item: string | Error): void => {
    const waiter = waiters.shift();
    if (waiter !== undefined) waiter(item);
    else if (typeof item === "string") queue.push(item);
  };
  const pump = (): void => {
    const { frames, rest } = decodeFrames(buffer);
    buffer = rest;
    for (const frame of frames) {
      if (frame.opcode === OPCODE_TEXT) deliver(frame.text);
      if (frame.opcode === OPCODE_CLOSE) {
        peerCloseCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
        socket.end();
      }
    }
  };
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    pump();
  });
  socket.on("close", () => {
    closed = true;
    for (const waiter of waiters.splice(0)) waiter(new Error("websocket closed"));
  });
  socket.on("error", () => socket.destroy());
  pump();
  return {
    next(timeoutMs = 5000) {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      if (closed) return Promise.reject(new Error("websocket closed"));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const at = waiters.indexOf(settle);
          if (at >= 0) waiters.splice(at, 1);
          reject(new Error(`no websocket frame within ${timeoutMs} ms`));
        }, timeoutMs);
        const settle = (item: string | Error): void => {
          clearTimeout(timer);
          if (typeof item === "string") resolve(item);
          else reject(item);
        };
        waiters.push(settle);
      });
    },
    closeCode() {
      return peerCloseCode;
    },
    send(text) {
      socket.write(encodeFrame(text, true));
    },
    close() {
      if (!socket.destroyed) socket.end(encodeFrame("", true, OPCODE_CLOSE));
      socket.destroy();
    },
  };
}
