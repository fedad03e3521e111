/**
 * A small client for the OCI distribution API (manifests only), on `fetch`. Every request is
 * bounded by a timeout. A registry that asks for a bearer token (`401` with a `Bearer` challenge)
 * is answered through the `getToken` hook, which the platform's token service plugs into; without
 * the hook the challenge is reported as a refusal.
 */
import { createHash } from "node:crypto";

/** The manifest media types the platform accepts, in the order they are offered in `Accept`. */
export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

/** The largest manifest body read (the distribution registry's own limit is 4 MiB). */
export const MANIFEST_BODY_LIMIT = 4 * 1024 * 1024;

/** What a registry said in `WWW-Authenticate: Bearer realm=…,service=…,scope=…`. */
export interface BearerChallenge {
  readonly realm: string;
  readonly service?: string;
  readonly scope?: string;
  /** `insufficient_scope` when a token was sent but does not cover the request. */
  readonly error?: string;
}

/** Supplies a bearer token for a challenge, or undefined when it has none to give. */
export type TokenProvider = (challenge: BearerChallenge) => Promise<string | undefined>;

/** Options of {@link createRegistryClient}. */
export interface RegistryClientOptions {
  /** `http(s)://host[:port]` of the registry. */
  readonly baseUrl: string;
  /** Upper bound of each request, headers and body included; 5 s unless told. */
  readonly timeoutMs?: number;
  /** Answers bearer challenges (the token service, issue 4). */
  readonly getToken?: TokenProvider;
  /** The `fetch` to use; the global one unless told (tests may pass their own). */
  readonly fetch?: typeof fetch;
}

/** A manifest as the registry describes it. */
export interface ManifestDescriptor {
  readonly digest: string;
  readonly media_type: string;
  readonly size: number | undefined;
  /** Whether the digest came from `Docker-Content-Digest` or from hashing the body. */
  readonly digest_source: "header" | "body";
}

/** The answer to a manifest lookup: the registry found it, does not have it, or refused. */
export type ManifestLookup =
  | { readonly kind: "found"; readonly descriptor: ManifestDescriptor }
  | { readonly kind: "not_found"; readonly status: number }
  | {
      readonly kind: "denied";
      readonly status: number;
      readonly challenge: BearerChallenge | undefined;
    }
  | { readonly kind: "unexpected"; readonly status: number };

/** Why a registry could not be spoken to at all. */
export type UnreachableReason = "timeout" | "connection_failed" | "server_error" | "body_too_large";

/** The registry did not answer, answered with a server error, or sent an unreadable answer. */
export class RegistryUnreachableError extends Error {
  override readonly name = "RegistryUnreachableError";
  readonly reason: UnreachableReason;
  readonly status: number | undefined;

  constructor(
    reason: UnreachableReason,
    message: string,
    extra: { readonly status?: number; readonly cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.reason = reason;
    this.status = extra.status;
  }
}

/** The operations the control plane needs from a registry. */
export interface RegistryClient {
  /** `http(s)://host[:port]` without a trailing slash. */
  readonly baseUrl: string;
  /**
   * Looks up a manifest: `HEAD /v2/<name>/manifests/<reference>`, and when the registry does not
   * send `Docker-Content-Digest` (the OCI spec makes it optional), `GET` it and hash the body.
   */
  resolveManifest(name: string, reference: string): Promise<ManifestLookup>;
}

const DEFAULT_TIMEOUT_MS = 5_000;

/** Creates a {@link RegistryClient} for one registry. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const accept = MANIFEST_MEDIA_TYPES.join(", ");

  async function send(
    method: "HEAD" | "GET",
    path: string,
    signal: AbortSignal,
  ): Promise<Response> {
    const url = `${baseUrl}${path}`;
    let response = await request(doFetch, url, method, { accept }, signal);
    if (response.status !== 401 || options.getToken === undefined) return response;
    const challenge = parseBearerChallenge(response.headers.get("www-authenticate"));
    await discard(response);
    if (challenge === undefined) return response;
    const token = await options.getToken(challenge);
    if (token === undefined) return response;
    response = await request(
      doFetch,
      url,
      method,
      { accept, authorization: `Bearer ${token}` },
      signal,
    );
    return response;
  }

  return {
    baseUrl,
    async resolveManifest(name, reference) {
      const path = `/v2/${name}/manifests/${encodeURIComponent(reference)}`;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const head = await send("HEAD", path, signal);
        const outcome = classify(head);
        if (outcome !== undefined) return outcome;
        const mediaType = toMediaType(head.headers.get("content-type"));
        const headerDigest = head.headers.get("docker-content-digest");
        if (headerDigest !== null && headerDigest !== "") {
          return {
            kind: "found",
            descriptor: {
              digest: headerDigest,
              media_type: mediaType,
              size: toSize(head.headers.get("content-length")),
              digest_source: "header",
            },
          };
        }
        const get = await send("GET", path, signal);
        const fallback = classify(get);
        if (fallback !== undefined) {
          await discard(get);
          return fallback;
        }
        const body = await readBounded(get, MANIFEST_BODY_LIMIT);
        return {
          kind: "found",
          descriptor: {
            digest: `sha256:${createHash("sha256").update(body).digest("hex")}`,
            media_type: toMediaType(get.headers.get("content-type")),
            size: body.byteLength,
            digest_source: "body",
          },
        };
      } catch (error) {
        throw toUnreachable(error, baseUrl, timeoutMs);
      }
    },
  };
}

async function request(
  doFetch: typeof fetch,
  url: string,
  method: "HEAD" | "GET",
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Response> {
  // A registry that redirects a manifest request elsewhere is not followed: the credential and
  // the answer must both come from the configured registry.
  return doFetch(url, { method, headers, signal, redirect: "manual" });
}

/** The lookup result for a response that is not a `200`, or undefined for a `200`. */
function classify(response: Response): ManifestLookup | undefined {
  const status = response.status;
  if (status === 200) return undefined;
  if (status === 404) return { kind: "not_found", status };
  if (status === 401 || status === 403) {
    return {
      kind: "denied",
      status,
      challenge: parseBearerChallenge(response.headers.get("www-authenticate")),
    };
  }
  if (status >= 500) {
    throw new RegistryUnreachableError("server_error", `the registry answered ${status}`, {
      status,
    });
  }
  return { kind: "unexpected", status };
}

function toMediaType(header: string | null): string {
  return (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function toSize(header: string | null): number | undefined {
  if (header === null || !/^\d+$/.test(header)) return undefined;
  return Number(header);
}

async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // The body is not needed; a failure to cancel it changes nothing.
  }
}

/** Reads a body, refusing one larger than `limit` bytes without buffering past it. */
async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  const declared = toSize(response.headers.get("content-length"));
  if (declared !== undefined && declared > limit) {
    await discard(response);
    throw new RegistryUnreachableError(
      "body_too_large",
      `the manifest is larger than ${limit} bytes`,
    );
  }
  if (response.body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > limit) {
      throw new RegistryUnreachableError(
        "body_too_large",
        `the manifest is larger than ${limit} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toUnreachable(
  error: unknown,
  baseUrl: string,
  timeoutMs: number,
): RegistryUnreachableError {
  if (error instanceof RegistryUnreachableError) return error;
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new RegistryUnreachableError(
      "timeout",
      `the registry ${baseUrl} did not answer within ${timeoutMs} ms`,
      { cause: error },
    );
  }
  return new RegistryUnreachableError(
    "connection_failed",
    `cannot connect to the registry ${baseUrl}`,
    {
      cause: error,
    },
  );
}

/**
 * Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`; undefined for any other
 * scheme or a challenge without a realm.
 */
export function parseBearerChallenge(header: string | null): BearerChallenge | undefined {
  if (header === null) return undefined;
  const match = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const part of (match[1] ?? "").matchAll(
    /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g,
  )) {
    const key = part[1]?.toLowerCase();
    if (key !== undefined) params[key] = (part[2] ?? part[3] ?? "").replace(/\\(.)/g, "$1");
  }
  const realm = params.realm;
  if (realm === undefined || realm === "") return undefined;
  return {
    realm,
    ...(params.service !== undefined ? { service: params.service } : {}),
    ...(params.scope !== undefined ? { scope: params.scope } : {}),
    ...(params.error !== undefined ? { error: params.error } : {}),
  };
}
