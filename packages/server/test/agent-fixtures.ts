// A test node agent that speaks the agent protocol over HTTP only (app.inject), the way the real
// agent in packages/agent does, plus helpers to enroll a node through the operator API. Every
// response can be recorded, so the secrets test can grep everything the API answered.
import assert from "node:assert/strict";
import type { FastifyInstance } from "fastify";

/** One API answer as the recorder sees it. */
export interface RecordedResponse {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly body: string;
}

/** A response, parsed. */
export interface AgentResponse {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are read loosely by the tests
  readonly json: any;
  readonly body: string;
}

/** Calls the API with `app.inject` and hands every answer to `record`. */
export async function callApi(
  app: FastifyInstance,
  input: {
    readonly method: "GET" | "POST" | "PUT" | "DELETE";
    readonly url: string;
    readonly headers?: Record<string, string>;
    readonly body?: unknown;
  },
  record?: (response: RecordedResponse) => void,
): Promise<AgentResponse> {
  const response = await app.inject({
    method: input.method,
    url: input.url,
    headers: {
      ...(input.body !== undefined ? { "content-type": "application/json" } : {}),
      ...input.headers,
    },
    ...(input.body !== undefined ? { payload: JSON.stringify(input.body) } : {}),
  });
  record?.({
    method: input.method,
    url: input.url,
    status: response.statusCode,
    body: response.body,
  });
  let json: unknown;
  try {
    json = response.body.length > 0 ? response.json() : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, json, body: response.body };
}

/** Mints a bootstrap token for a node through the operator API. */
export async function mintBootstrapToken(
  app: FastifyInstance,
  operatorHeaders: Record<string, string>,
  nodeId: string,
  record?: (response: RecordedResponse) => void,
): Promise<string> {
  const response = await callApi(
    app,
    {
      method: "POST",
      url: `/api/v1/nodes/${nodeId}/bootstrap-tokens`,
      headers: operatorHeaders,
      body: {},
    },
    record,
  );
  assert.equal(response.status, 201, response.body);
  return response.json.token as string;
}

/** A node agent driven by the test. */
export class TestAgent {
  readonly app: FastifyInstance;
  readonly nodeId: string;
  readonly credential: string;
  readonly record: ((response: RecordedResponse) => void) | undefined;

  constructor(
    app: FastifyInstance,
    nodeId: string,
    credential: string,
    record?: (response: RecordedResponse) => void,
  ) {
    this.app = app;
    this.nodeId = nodeId;
    this.credential = credential;
    this.record = record;
  }

  /** Registers with a bootstrap token; fails the test unless the API answers 201. */
  static async register(
    app: FastifyInstance,
    bootstrapToken: string,
    options: {
      readonly hostname?: string;
      readonly inventory?: Record<string, unknown>;
      readonly record?: (response: RecordedResponse) => void;
    } = {},
  ): Promise<TestAgent> {
    const response = await callApi(
      app,
      {
        method: "POST",
        url: "/api/v1/agent/register",
        body: {
          bootstrap_token: bootstrapToken,
          hostname: options.hostname ?? "gpu-host-1",
          inventory: options.inventory ?? sampleInventory(),
        },
      },
      options.record,
    );
    assert.equal(response.status, 201, response.body);
    return new TestAgent(app, response.json.node_id, response.json.node_credential, options.record);
  }

  /** POSTs to an agent route (`path` after `/api/v1/agent`). */
  post(path: string, body?: unknown): Promise<AgentResponse> {
    return callApi(
      this.app,
      {
        method: "POST",
        url: `/api/v1/agent${path}`,
        headers: { authorization: `Bearer ${this.credential}` },
        ...(body !== undefined ? { body } : {}),
      },
      this.record,
    );
  }

  heartbeat(inventory: Record<string, unknown> = sampleInventory()): Promise<AgentResponse> {
    return this.post("/heartbeat", { inventory });
  }

  lease(
    options: { readonly max?: number; readonly wait_ms?: number } = {},
  ): Promise<AgentResponse> {
    return this.post("/leases", options);
  }

  extend(taskId: string): Promise<AgentResponse> {
    return this.post(`/tasks/${taskId}/extend`);
  }

  result(
    taskId: string,
    status: "succeeded" | "failed",
    result: Record<string, unknown> = {},
  ): Promise<AgentResponse> {
    return this.post(`/tasks/${taskId}/result`, { status, result });
  }

  reportContainers(containers: readonly Record<string, unknown>[]): Promise<AgentResponse> {
    return this.post("/inventory/containers", { containers });
  }
}

/** An inventory like a podman host without GPUs reports. */
export function sampleInventory(): Record<string, unknown> {
  return {
    agent_version: "0.0.0-test",
    runtime: { name: "podman", version: "4.3.1", rootless: false },
    gpus: [],
    cdi: { enabled: false, devices: [] },
    disk: { path: "/var/lib/containers", free_bytes: 50_000_000_000, total_bytes: 100_000_000_000 },
  };
}
