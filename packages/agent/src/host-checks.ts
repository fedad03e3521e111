import { statfs } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname } from "node:path";

/**
 * True when nothing listens on `127.0.0.1:<port>`: the agent binds it for a moment, as the
 * runtime will. A port taken on another address does not block a loopback bind.
 */
export async function isLoopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Free bytes for an unprivileged writer on the file system holding `path`, or of its nearest
 * existing ancestor when `path` does not exist yet.
 */
export async function freeDiskBytes(path: string): Promise<number | undefined> {
  let current = path;
  for (;;) {
    try {
      const stats = await statfs(current);
      return Number(stats.bavail) * Number(stats.bsize);
    } catch {
      const parent = dirname(current);
      if (parent === current) return undefined;
      current = parent;
    }
  }
}

/**
 * Formats a byte count for an operator.
 *
 * @example
 * formatBytes(2 * 1024 ** 3) // "2.0 GiB"
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
