/**
 * The console's only way to the control plane. It sends the HttpOnly session cookie (never a
 * token it could read), adds the CSRF header to every state-changing request, and turns every
 * error into an {@link ApiRequestError} carrying the API's one error body.
 */
import type { ApiErrorBody, Page } from "./api-types.js";

/** The header a browser session must send with every state-changing request. */
export const CSRF_HEADER = "x-gpuaas-csrf";

const BASE = "/api/v1";
const TIMEOUT_MS = 20_000;

/** A refused or failed API call, with the coded body the API answered (or a synthetic one). */
export class ApiRequestError extends Error {
  readonly status: number;
  readonly body: ApiErrorBody;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiRequestError";
    this.status = status;
    this.body = body;
  }
}

/** True when an error means the browser has no (valid) session. */
export function isSignedOutError(error: unknown): boolean {
  return error instanceof ApiRequestError && error.status === 401;
}

/** Options of {@link callApi}. */
export interface CallOptions {
  readonly method?: "GET" | "POST" | "PUT" | "DELETE";
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/**
 * Calls `/api/v1<path>` and returns the parsed JSON (undefined for 204).
 *
 * @example
 * const me = await callApi<Me>("/me");
 */
export async function callApi<T>(path: string, options: CallOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers[CSRF_HEADER] = "1";
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const signal =
    options.signal !== undefined
      ? AbortSignal.any([options.signal, AbortSignal.timeout(TIMEOUT_MS)])
      : AbortSignal.timeout(TIMEOUT_MS);
  let response: Response;
  try {
    response = await fetch(`${BASE}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      signal,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiRequestError(0, {
      code: "network.unreachable",
      message: "The control plane did not answer. Check that it is running, then try again.",
    });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const body = isErrorBody(parsed)
      ? parsed
      : { code: "http.unexpected", message: `The control plane answered ${response.status}.` };
    throw new ApiRequestError(response.status, body);
  }
  return parsed as T;
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/** Reads every page of a list endpoint (bounded, so a runaway cursor cannot loop forever). */
export async function callApiList<T>(path: string, signal?: AbortSignal): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page += 1) {
    const separator = path.includes("?") ? "&" : "?";
    const url: string =
      cursor === null ? path : `${path}${separator}after=${encodeURIComponent(cursor)}`;
    const result: Page<T> = await callApi<Page<T>>(url, signal !== undefined ? { signal } : {});
    items.push(...result.items);
    // Some lists are not paged and carry no cursor at all.
    if (typeof result.next_cursor !== "string" || result.items.length === 0) break;
    cursor = result.next_cursor;
  }
  return items;
}

/** Percent-encodes one path segment. */
export function seg(value: string): string {
  return encodeURIComponent(value);
}
