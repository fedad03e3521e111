/** The stream a frame belongs to: 0 stdin, 1 stdout, 2 stderr (docker's and libpod's numbering). */
export type FrameStream = 0 | 1 | 2;

const HEADER_BYTES = 8;

/** Output split by stream, each bounded. */
export interface DemultipliedOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** Bytes were left out because a bound was reached. */
  readonly truncated: boolean;
}

/** Consumes a multiplexed stream chunk by chunk. */
export interface FrameDemultiplexer {
  /** Takes the next chunk; false once `maxBytes` of output are kept (stop reading). */
  push(chunk: Uint8Array): boolean;
  /** What was kept, once the stream ended. */
  finish(): DemultipliedOutput;
}

function isHeader(bytes: Uint8Array, at: number): boolean {
  const stream = bytes[at] ?? 255;
  return stream <= 2 && bytes[at + 1] === 0 && bytes[at + 2] === 0 && bytes[at + 3] === 0;
}

/**
 * Splits the `application/vnd.docker.raw-stream` framing that the logs and exec-start endpoints use
 * for a container without a TTY: each frame is an 8-byte header (stream byte, three zero bytes, a
 * big-endian 32-bit length) and then that many bytes. Frames may arrive split across chunks or
 * several to a chunk. A stream that does not start with a valid header is taken as raw output on
 * stdout (a TTY container). At most `maxBytes` of stdout plus stderr are kept.
 *
 * @example
 * const demux = createFrameDemultiplexer(1024);
 * demux.push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a]));
 * demux.finish().stdout // "hi\n"
 */
export function createFrameDemultiplexer(maxBytes: number): FrameDemultiplexer {
  const kept: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  let keptBytes = 0;
  let truncated = false;
  let pending: Buffer = Buffer.alloc(0);
  let raw: boolean | undefined;
  // Bytes still to come of the frame being read, and its stream.
  let remaining = 0;
  let stream: FrameStream = 1;

  const keep = (target: FrameStream, bytes: Buffer): void => {
    if (bytes.length === 0) return;
    const room = maxBytes - keptBytes;
    if (room <= 0) {
      truncated = true;
      return;
    }
    const part = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (part.length < bytes.length) truncated = true;
    (target === 2 ? kept.stderr : kept.stdout).push(Buffer.from(part));
    keptBytes += part.length;
  };

  return {
    push(chunk) {
      const data: Buffer =
        pending.length > 0 ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      pending = Buffer.alloc(0);
      if (raw === undefined) {
        if (data.length < HEADER_BYTES && remaining === 0) {
          pending = data;
          return !truncated;
        }
        raw = !isHeader(data, 0);
      }
      if (raw) {
        keep(1, data);
        return !truncated;
      }
      let at = 0;
      while (at < data.length) {
        if (remaining > 0) {
          const take = Math.min(remaining, data.length - at);
          if (stream !== 0) keep(stream, data.subarray(at, at + take));
          remaining -= take;
          at += take;
          continue;
        }
        if (data.length - at < HEADER_BYTES) {
          pending = data.subarray(at);
          break;
        }
        if (!isHeader(data, at)) {
          // Not framing after all: keep the rest as it is rather than dropping it.
          raw = true;
          keep(1, data.subarray(at));
          break;
        }
        stream = (data[at] ?? 1) as FrameStream;
        remaining = data.readUInt32BE(at + 4);
        at += HEADER_BYTES;
      }
      return !truncated;
    },
    finish() {
      // A stream cut inside a header: what is there is output nobody framed.
      if (pending.length > 0 && raw !== false) keep(1, pending);
      else if (pending.length > 0) truncated = true;
      pending = Buffer.alloc(0);
      return {
        stdout: Buffer.concat(kept.stdout).toString("utf8"),
        stderr: Buffer.concat(kept.stderr).toString("utf8"),
        truncated: truncated || remaining > 0,
      };
    },
  };
}
