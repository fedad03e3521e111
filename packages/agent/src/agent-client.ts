/**
 * The agent's side of the node-agent protocol (`docs/agent-protocol.md`): JSON over HTTP(S) to
 * `/api/v1/agent/*` with `fetch`, the node credential as a bearer token. Dials out only.
 */

/** The pull credential a `workload.oci_launch` lease carries. */
export interface LeasePullCredential {
  readonly registry: string;
  readonly username: string;
  readonly password: string;
  readonly expires_at?: string;
}

/** One task lease as the control plane hands it out. */
export interface AgentLease {
  readonly task_id: string;
  readonly kind: string;
  readonly instance_id: string | null;
  readonly correlation_id: string;
  /** 1 on first delivery; above 1 the task was handed out before and its lease ran out. */
  readonly attempt: number;
  readonly lease_expires_at: string;
  /** The rendered task spec (engines' `OciLaunchSpec`, `OciControlSpec`, … or the logs spec). */
  readonly spec: Readonly<Record<string, unknown>>;
  readonly pull_credential?: LeasePullCredential;
}

/** The answer of `POST /agent/register`. */
export interface Registration {
  readonly node_id: string;
  readonly node_credential: string;
  readonly heartbeat_interval_ms: number;
  readonly lease_ms: number;
}

/** The answer of `POST /agent/heartbeat`. */
export interface HeartbeatAnswer {
  readonly node_id: string;
  readonly state: string;
  readonly heartbeat_interval_ms: number;
  readonly lease_ms: number;
}

/** The answer of `POST /agent/tasks/{id}/result`. */
export interface ResultAnswer {
  readonly task_id: string;
  readonly state: string;
  readonly duplicate: boolean;
  readonly instance: { readonly id: string; readonly state: string } | null;
}

/** The answer of `POST /agent/inventory/containers`. */
export interface ContainerReportAnswer {
  readonly reconciled: readonly { readonly instance_id: string; from: string; to: string }[];
  readonly skipped: readonly { readonly instance_id: string; reason: string }[];
  readonly orphans: readonly string[];
}

/**
 * A refusal of the control plane (`{code, message, correlation_id}`), or `agent.unreachable`
 * (status 0) when it could not be reached or did not answer JSON. Callers branch on `code`.
 */
export class AgentApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly correlationId?: string,
  ) {
    super(message);
    this.name = "AgentApiError";
  }

  /** True when retrying the same call later may succeed (network trouble, 5xx, 429). */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** The protocol calls, bound to one control plane. */
export interface AgentClient {
  readonly serverUrl: string;
  /** Sets the node credential sent as a bearer token on every call but `register`. */
  setCredential(credential: string | undefined): void;
  register(input: {
    readonly bootstrap_token: string;
    readonly hostname: string;
    readonly inventory: Readonly<Record<string, unknown>>;
  }): Promise<Registration>;
  heartbeat(inventory: Readonly<Record<string, unknown>>): Promise<HeartbeatAnswer>;
  lease(
    input: { readonly max: number; readonly wait_ms: number },
    signal?: AbortSignal,
  ): Promise<AgentLease[]>;
  extend(taskId: string): Promise<{ readonly task_id: string; readonly lease_expires_at: string }>;
  postResult(
    taskId: string,
    status: "succeeded" | "failed",
    result: Readonly<Record<string, unknown>>,
  ): Promise<ResultAnswer>;
  reportContainers(containers: readonly unknown[]): Promise<ContainerReportAnswer>;
}

/** Options of {@link createAgentClient}. */
export interface AgentClientOptions {
  /** The control plane's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly serverUrl: string;
  readonly fetch?: typeof fetch;
  /** Bound of one call other than the lease long poll; default 30 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** Slack added to a long poll's own wait before the client gives up on it. */
const LONG_POLL_SLACK_MS = 15_000;

/** Parses `http(s)://host[:port][/]` and refuses anything else (credentials in it, a path, a query). */
export function toServerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`the server URL "${text}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`the server URL must be http(s), not ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new Error("the server URL must not carry credentials, a query or a fragment");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Creates the protocol client. Every call has a timeout (the long poll gets its wait plus slack)
 * and maps a refusal to an {@link AgentApiError} carrying the control plane's code.
 *
 * @example
 * const client = createAgentClient({ serverUrl: "http://127.0.0.1:8080" });
 * const { node_credential } = await client.register({ bootstrap_token, hostname, inventory });
 */
export function createAgentClient(options: AgentClientOptions): AgentClient {
  const serverUrl = toServerUrl(options.serverUrl);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let credential: string | undefined;

  async function call(
    path: string,
    body: unknown,
    init: { readonly auth: boolean; readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<Record<string, unknown>> {
    const timeout = AbortSignal.timeout(init.timeoutMs ?? timeoutMs);
    const signal = init.signal === undefined ? timeout : AbortSignal.any([timeout, init.signal]);
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (init.auth) {
      if (credential === undefined) {
        throw new AgentApiError(401, "auth.missing_token", "the agent holds no node credential");
      }
      headers.authorization = `Bearer ${credential}`;
    }
    let response: Response;
    try {
      response = await doFetch(`${serverUrl}/api/v1/agent${path}`, {
        method: "POST",
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal,
      });
    } catch (error) {
      // The caller's own abort is not a network problem: let it through as it is.
      if (init.signal?.aborted === true) throw init.signal.reason;
      const reason = timeout.aborted
        ? "timed out"
        : error instanceof Error
          ? error.message
          : String(error);
      throw new AgentApiError(0, "agent.unreachable", `${serverUrl} did not answer: ${reason}`);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text.length > 0 ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = isRecord(json) ? json : {};
      throw new AgentApiError(
        response.status,
        typeof error.code === "string" ? error.code : `http.${response.status}`,
        typeof error.message === "string" ? error.message : `HTTP ${response.status}`,
        typeof error.correlation_id === "string" ? error.correlation_id : undefined,
      );
    }
    if (!isRecord(json)) {
      throw new AgentApiError(0, "agent.unreachable", `${serverUrl} answered ${path} with no JSON`);
    }
    return json;
  }

  return {
    serverUrl,
    setCredential(value) {
      credential = value;
    },
    async register(input) {
      const json = await call("/register", input, { auth: false });
      if (typeof json.node_id !== "string" || typeof json.node_credential !== "string") {
        throw new AgentApiError(0, "agent.unreachable", "the register answer has no credential");
      }
      return {
        node_id: json.node_id,
        node_credential: json.node_credential,
        heartbeat_interval_ms: toPositive(json.heartbeat_interval_ms, 20_000),
        lease_ms: toPositive(json.lease_ms, 60_000),
      };
    },
    async heartbeat(inventory) {
      const json = await call("/heartbeat", { inventory }, { auth: true });
      return {
        node_id: String(json.node_id ?? ""),
        state: String(json.state ?? ""),
        heartbeat_interval_ms: toPositive(json.heartbeat_interval_ms, 20_000),
        lease_ms: toPositive(json.lease_ms, 60_000),
      };
    },
    async lease(input, signal) {
      const json = await call("/leases", input, {
        auth: true,
        timeoutMs: input.wait_ms + LONG_POLL_SLACK_MS,
        ...(signal !== undefined ? { signal } : {}),
      });
      return Array.isArray(json.leases) ? json.leases.filter(isLease) : [];
    },
    async extend(taskId) {
      const json = await call(`/tasks/${encodeURIComponent(taskId)}/extend`, undefined, {
        auth: true,
      });
      return { task_id: taskId, lease_expires_at: String(json.lease_expires_at ?? "") };
    },
    async postResult(taskId, status, result) {
      const json = await call(
        `/tasks/${encodeURIComponent(taskId)}/result`,
        { status, result },
        { auth: true },
      );
      const instance = isRecord(json.instance) ? json.instance : null;
      return {
        task_id: taskId,
        state: String(json.state ?? status),
        duplicate: json.duplicate === true,
        instance:
          instance === null ? null : { id: String(instance.id), state: String(instance.state) },
      };
    },
    async reportContainers(containers) {
      const json = await call("/inventory/containers", { containers }, { auth: true });
      return {
        reconciled: Array.isArray(json.reconciled)
          ? (json.reconciled as ContainerReportAnswer["reconciled"])
          : [],
        skipped: Array.isArray(json.skipped)
          ? (json.skipped as ContainerReportAnswer["skipped"])
          : [],
        orphans: Array.isArray(json.orphans)
          ? json.orphans.filter((name): name is string => typeof name === "string")
          : [],
      };
    },
  };
}

function toPositive(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

function isLease(value: unknown): value is AgentLease {
  return (
    isRecord(value) &&
    typeof value.task_id === "string" &&
    typeof value.kind === "string" &&
    typeof value.correlation_id === "string" &&
    isRecord(value.spec)
  );
}
