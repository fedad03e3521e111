// Shared by the managed-ingress suites: a workload stand-in that verifies the platform's identity
// assertion itself, the vLLM profile seeded next to JupyterLab, and small polling helpers.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import { parse } from "yaml";
import type { EdgeResponse } from "../../ingress/test/support/edge-client.js";
import { verifyAssertion } from "../../ingress/test/support/platform-jwt.js";
import { acceptWebSocket, encodeFrame } from "../../ingress/test/support/websocket.js";
import {
  type AppVersion,
  createArtifact,
  registerAppVersion,
  type StoreDb,
  setEntitlement,
  transitionArtifact,
} from "../src/index.js";

export const DOMAIN = "apps.example.test";
/** The console's public URL in the tests: the sign-in page's origin and the assertions' issuer. */
export const CONSOLE = "https://console.example.test";
export const HOST_MAP = {
  "jupyterlab.web": `jupyter.${DOMAIN}`,
  "vllm-openai.openai": `*.${DOMAIN}`,
};

/** What the stand-in workload saw for one request, with its own check of the assertion. */
export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
  readonly assertion:
    | { readonly ok: true; readonly claims: Record<string, unknown> }
    | {
        readonly ok: false;
        readonly error: string;
      };
}

/** A workload that trusts nothing but the platform's signed assertion. */
export interface VerifyingUpstream {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/**
 * An HTTP + websocket upstream that verifies `X-Platform-Jwt-Assertion` as a workload must:
 * signature against the JWKS it fetches from the control plane, issuer, audience (its own public
 * host, from the Host header) and expiry. It answers with what it saw and what it concluded.
 */
export async function startVerifyingUpstream(
  jwksUrl: string,
  issuer: string,
): Promise<VerifyingUpstream> {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const check = async (headers: IncomingHttpHeaders): Promise<Seen["assertion"]> => {
    const token = headers["x-platform-jwt-assertion"];
    if (typeof token !== "string") return { ok: false, error: "no assertion" };
    try {
      const jwks = (await (await fetch(jwksUrl)).json()) as { keys: [] };
      const audience = String(headers.host ?? "").replace(/:\d+$/, "");
      return { ok: true, claims: verifyAssertion(token, jwks, { issuer, audience }) };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  };
  const server: Server = createServer((req, res) => {
    let length = 0;
    req.on("data", (chunk: Buffer) => {
      length += chunk.length;
    });
    req.on("end", () => {
      void check(req.headers).then((assertion) => {
        const item: Seen = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          bodyLength: length,
          assertion,
        };
        seen.push(item);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(item));
      });
    });
  });
  server.on("upgrade", (req, socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const key = req.headers["sec-websocket-key"];
    if (typeof key !== "string") {
      socket.destroy();
      return;
    }
    void check(req.headers).then((assertion) => {
      const item: Seen = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyLength: 0,
        assertion,
      };
      seen.push(item);
      acceptWebSocket(key, socket);
      socket.write(encodeFrame(JSON.stringify(item), false));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Registers the curated vLLM profile with a promoted CUDA artifact, and entitles the project. */
export async function seedVllm(db: StoreDb, projectId: string): Promise<AppVersion> {
  const manifest = parse(
    await readFile(new URL("../../../profiles/vllm-openai.yaml", import.meta.url), "utf8"),
  );
  const validation = validateProfile(manifest);
  if (!validation.ok || validation.profile === undefined) throw new Error("vllm profile invalid");
  const version = await registerAppVersion(db, {
    version: "0.11.0",
    manifest,
    profile: validation.profile,
    gate_report: checkAuthoringGate(manifest),
    published: true,
  });
  let artifact = await createArtifact(db, {
    app_version_id: version.id,
    artifact_name: "vllm/openai-cuda",
    repository: `127.0.0.1:5055/gpuaas/vllm-${randomBytes(3).toString("hex")}`,
    digest: `sha256:${randomBytes(32).toString("hex")}`,
    media_type: "application/vnd.oci.image.manifest.v1+json",
    platform: { os: "linux", architecture: "amd64" },
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
  });
  for (const step of ["verified", "published", "promoted"] as const) {
    artifact = await transitionArtifact(db, { id: artifact.id, to: step });
  }
  await setEntitlement(db, { project_id: projectId, app_slug: "vllm-openai", enabled: true });
  return version;
}

/** Polls `probe` every 100 ms until it returns a value, at most `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function cookieOf(setCookie: string | string[] | undefined, name: string): string {
  const all = Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie];
  const found = all.find((item) => item.startsWith(`${name}=`));
  assert.ok(found, `no ${name} cookie in ${JSON.stringify(all)}`);
  return found;
}

export function bodyOf(response: EdgeResponse): Seen {
  assert.equal(response.status, 200, `edge answered ${response.status}: ${response.body}`);
  return JSON.parse(response.body) as Seen;
}
