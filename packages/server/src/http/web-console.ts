import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Options of {@link registerWebConsole}. */
export interface WebConsoleOptions {
  /** The built console (`packages/web/dist`); without it `/` explains how to build it. */
  readonly distDir?: string | undefined;
}

/** One file of the built console, held in memory. */
interface ConsoleFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  /** Hashed asset names never change content, so browsers may keep them for a year. */
  readonly immutable: boolean;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** The console never needs more than this in memory; a larger directory is a misconfiguration. */
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

/**
 * The content security policy of the console. Scripts and styles come only from the control
 * plane itself (no inline code). `'unsafe-eval'` is needed because the wizard validates launches
 * in the browser with the contract's JSON Schema validator (Ajv), which compiles each profile's
 * parameter schema into a function at run time; no script from another origin can run.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gpuaas console not built</title></head>
<body><main><h1>The web console is not built</h1>
<p>Build it with <code>npm run build -w @gpuaas/web</code> (or <code>npm run setup</code>) and restart
<code>gpuaas up</code>. The API is available at <a href="/api/v1/openapi.json">/api/v1</a>.</p></main></body></html>
`;

async function collectFiles(root: string): Promise<Map<string, ConsoleFile>> {
  const files = new Map<string, ConsoleFile>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!entry.isFile()) continue;
      const body = await readFile(path);
      total += body.length;
      if (total > MAX_TOTAL_BYTES)
        throw new Error(`the web console in ${root} is larger than ${MAX_TOTAL_BYTES} bytes`);
      const url = `/${relative(root, path).split(sep).join("/")}`;
      files.set(url, {
        body,
        type: TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
        etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
        immutable: url.startsWith("/assets/"),
      });
    }
  };
  await walk(root);
  return files;
}

/** Loads the built console, or nothing when the directory has no index.html. */
async function loadConsole(distDir: string | undefined): Promise<Map<string, ConsoleFile>> {
  if (distDir === undefined) return new Map();
  try {
    if (!(await stat(join(distDir, "index.html"))).isFile()) return new Map();
  } catch {
    return new Map();
  }
  return collectFiles(distDir);
}

function toPathname(url: string): string | undefined {
  const raw = url.split("?")[0] ?? "/";
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function isApiPath(pathname: string): boolean {
  return pathname === "/api" || pathname.startsWith("/api/");
}

function send(
  request: FastifyRequest,
  reply: FastifyReply,
  file: ConsoleFile,
  status = 200,
): FastifyReply {
  reply
    .headers(SECURITY_HEADERS)
    .header("content-type", file.type)
    .header("etag", file.etag)
    .header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (request.headers["if-none-match"] === file.etag) return reply.status(304).send();
  return reply.status(status).send(file.body);
}

/**
 * Serves the web console at `/` from the control plane itself (no second server): the built
 * files from memory, and `index.html` for every other non-API path so the console's own routes
 * survive a reload. Unknown `/api/*` paths keep the API's JSON 404. Every console response
 * carries the security headers (CSP, nosniff, no referrer, no framing).
 */
export async function registerWebConsole(
  app: FastifyInstance,
  options: WebConsoleOptions = {},
): Promise<void> {
  const files = await loadConsole(options.distDir);
  const index = files.get("/index.html");
  const notBuilt: ConsoleFile = {
    body: Buffer.from(NOT_BUILT),
    type: TYPES[".html"] as string,
    etag: `"not-built"`,
    immutable: false,
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const pathname = toPathname(request.url);
    if (pathname !== undefined && isApiPath(pathname)) return reply.callNotFound();
    if (index === undefined) return send(request, reply, notBuilt, 404);
    const file = pathname === undefined ? undefined : files.get(pathname);
    if (file !== undefined) return send(request, reply, file);
    // A missing asset is a 404, never the page: a script tag must not get HTML back.
    if (pathname?.startsWith("/assets/") === true) {
      return reply
        .headers(SECURITY_HEADERS)
        .status(404)
        .header("content-type", "text/plain; charset=utf-8")
        .send("not found\n");
    }
    return send(request, reply, index);
  };

  app.get("/", { config: { permission: "public" }, schema: { hide: true } }, handle);
  app.get("/*", { config: { permission: "public" }, schema: { hide: true } }, handle);
}
