/**
 * The node-agent protocol (ARCHITECTURE.md, "Node agent protocol"). Agents dial out: they
 * register once with a bootstrap token, then heartbeat, long-poll for task leases, extend leases
 * while they work, post results and, after a restart, report the containers they found. Every
 * route but `register` takes the node credential as a bearer token (`node` permission). The wire
 * shapes are documented in `docs/agent-protocol.md`.
 */
import type { FastifyInstance } from "fastify";
import { leaseAgentTasks, toLeaseOwner } from "../../reconcile/lease-agent-tasks.js";
import { reconcileContainerReport } from "../../reconcile/reconcile-container-report.js";
import { reconcileTaskResult } from "../../reconcile/reconcile-task-result.js";
import { redactJson } from "../../reconcile/redact-secrets.js";
import { sweepLostNodes } from "../../reconcile/sweep-lost-nodes.js";
import { taskSignalFor } from "../../reconcile/task-signal.js";
import { toRegistryHost } from "../../registry/artifact-reference.js";
import {
  appendAudit,
  extendTaskLease,
  inTransaction,
  type Node,
  recordHeartbeat,
  redeemBootstrapToken,
} from "../../store/index.js";
import { extendPullCredential } from "../../store/pull-credentials.js";
import type { JsonObject, JsonValue } from "../../store/types.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { errorResponses, idSchema, objectResponse } from "../route-schemas.js";

/** Longest a lease poll may wait for work. */
export const MAX_LEASE_WAIT_MS = 25_000;
/** How often a waiting lease poll looks at the store again. */
export const LEASE_POLL_MS = 200;
/** Most tasks one lease call hands out. */
export const MAX_LEASES = 16;

/** What a heartbeat may report; known fields are described, others are kept as sent. */
const inventorySchema = {
  type: "object",
  description:
    "The node's inventory as its agent sees it. Known fields are described; others are kept as sent.",
  maxProperties: 64,
  additionalProperties: true,
  properties: {
    hostname: { type: "string", maxLength: 253 },
    address: {
      type: "string",
      description:
        "The address the platform edge dials to reach this node's published ports (an IP or host name). Absent: the edge runs on this host and dials 127.0.0.1.",
      maxLength: 253,
      pattern: "^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$",
    },
    agent_version: { type: "string", maxLength: 64 },
    runtime: {
      type: "object",
      additionalProperties: true,
      properties: {
        name: { type: "string", enum: ["podman", "docker", "nerdctl", "none"] },
        version: { type: "string", maxLength: 64 },
        rootless: { type: "boolean" },
      },
    },
    gpus: {
      type: "array",
      maxItems: 64,
      items: {
        type: "object",
        additionalProperties: true,
        properties: {
          index: { type: "integer", minimum: 0 },
          uuid: { type: "string", maxLength: 128 },
          name: { type: "string", maxLength: 128 },
          vendor: { type: "string", enum: ["nvidia", "amd", "intel"] },
          memory_mib: { type: "integer", minimum: 0 },
          driver_version: { type: "string", maxLength: 64 },
        },
      },
    },
    cdi: {
      type: "object",
      additionalProperties: true,
      properties: {
        enabled: { type: "boolean" },
        devices: { type: "array", maxItems: 256, items: { type: "string", maxLength: 128 } },
      },
    },
    nvidia_toolkit: { type: "object", additionalProperties: true },
    disk: {
      type: "object",
      additionalProperties: true,
      properties: {
        path: { type: "string", maxLength: 4096 },
        free_bytes: { type: "integer", minimum: 0 },
        total_bytes: { type: "integer", minimum: 0 },
      },
    },
  },
} as const;

const taskParams = {
  type: "object",
  additionalProperties: false,
  required: ["task_id"],
  properties: { task_id: idSchema },
} as const;

const containerSchema = {
  type: "object",
  additionalProperties: true,
  required: ["name", "state"],
  properties: {
    name: { type: "string", minLength: 1, maxLength: 256 },
    container_id: { type: "string", minLength: 1, maxLength: 128 },
    state: { type: "string", minLength: 1, maxLength: 32 },
    running: { type: "boolean" },
    labels: {
      type: "object",
      maxProperties: 64,
      additionalProperties: { type: "string", maxLength: 1024 },
    },
    ports: {
      type: "array",
      maxItems: 32,
      items: {
        type: "object",
        required: ["host_port"],
        properties: {
          endpoint: { type: "string", maxLength: 64 },
          container_port: { type: "integer", minimum: 1, maximum: 65535 },
          host_port: { type: "integer", minimum: 1, maximum: 65535 },
        },
      },
    },
  },
} as const;

interface ReportedContainerBody {
  name: string;
  container_id?: string;
  state: string;
  running?: boolean;
  labels?: Record<string, string>;
  ports?: { endpoint?: string; container_port?: number; host_port: number }[];
}

/** The agent routes, the lost-agent sweep they rely on, and its timer (cleared on close). */
export function registerAgentRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;
  const config = context.config;
  const registryHost = toRegistryHost(config.registry_url);
  const signal = taskSignalFor(context);
  const agentNode = (request: { agentNode?: Node }): Node => {
    if (request.agentNode === undefined) throw new Error("node route reached without a node");
    return request.agentNode;
  };

  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping = false;
  api.addHook("onReady", async () => {
    if (config.agent_sweep_interval_ms === 0) return;
    sweepTimer = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sweepLostNodes(db, { now: context.now(), offline_after_ms: config.agent_offline_after_ms })
        .then((report) => {
          // Instances in doubt lost their routes: the edge must drop them.
          if (report.instances.length > 0) context.ingress.afterCommit();
          if (report.nodes.length > 0) {
            api.log.warn(
              {
                correlation_id: report.correlation_id,
                nodes: report.nodes,
                instances: report.instances.length,
              },
              "node agents lost: nodes offline, their instances unknown",
            );
          }
        })
        .catch((error: unknown) => api.log.error({ err: error }, "lost-agent sweep failed"))
        .finally(() => {
          sweeping = false;
        });
    }, config.agent_sweep_interval_ms);
    sweepTimer.unref();
  });
  // Before the server waits for open requests: wake long polls so closing does not wait 25 s.
  api.addHook("preClose", async () => {
    signal.close();
  });
  api.addHook("onClose", async () => {
    if (sweepTimer !== undefined) clearInterval(sweepTimer);
    signal.close();
  });

  api.post<{ Body: { bootstrap_token: string; hostname: string; inventory?: JsonObject } }>(
    "/agent/register",
    {
      config: { permission: "public" },
      schema: {
        tags: ["agent"],
        summary: "Join a node: trade a one-time bootstrap token for the node credential",
        description:
          "The bootstrap token (from POST /api/v1/nodes/{node_id}/bootstrap-tokens) is the credential of this call and works once. The node credential in the answer is shown only here; it replaces any earlier one of the node. 401 agent.bootstrap_invalid when the token is unknown, used or expired.",
        security: [],
        body: {
          type: "object",
          additionalProperties: false,
          required: ["bootstrap_token", "hostname"],
          properties: {
            bootstrap_token: { type: "string", minLength: 1, maxLength: 256 },
            hostname: {
              type: "string",
              minLength: 1,
              maxLength: 253,
              pattern: "^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
            },
            inventory: inventorySchema,
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const now = context.now();
      const enrolled = await inTransaction(db, async (tx) => {
        const enrollment = await redeemBootstrapToken(tx, request.body.bootstrap_token, now);
        if (enrollment === undefined) return undefined;
        const node = await recordHeartbeat(tx, {
          node_id: enrollment.node.id,
          inventory: redactJson({ ...request.body.inventory, hostname: request.body.hostname }),
          now,
        });
        await appendAudit(tx, {
          actor: `node:${node.id}`,
          action: "node.registered",
          target: `node:${node.id}`,
          correlation_id: request.id,
          data: { hostname: request.body.hostname },
        });
        return { node, credential: enrollment.credential };
      });
      if (enrolled === undefined) {
        throw new ApiError(
          "agent.bootstrap_invalid",
          "the bootstrap token is unknown, already used or expired; ask an operator for a new one (POST /api/v1/nodes/{node_id}/bootstrap-tokens)",
        );
      }
      request.log.info({ node_id: enrolled.node.id }, "node agent registered");
      return reply.status(201).send({
        node_id: enrolled.node.id,
        node_credential: enrolled.credential,
        node: enrolled.node,
        heartbeat_interval_ms: toHeartbeatInterval(config.agent_offline_after_ms),
        lease_ms: config.agent_lease_ms,
      });
    },
  );

  api.post<{ Body: { inventory: JsonObject } }>(
    "/agent/heartbeat",
    {
      config: { permission: "node" },
      schema: {
        tags: ["agent"],
        summary: "Report the node's inventory; the node is online while heartbeats arrive",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["inventory"],
          properties: { inventory: inventorySchema },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const node = agentNode(request);
      const hostname = node.inventory.hostname;
      const updated = await recordHeartbeat(db, {
        node_id: node.id,
        // Inventories carry no secrets; a careless probe's output is scrubbed anyway.
        inventory: redactJson({
          ...(typeof hostname === "string" ? { hostname } : {}),
          ...request.body.inventory,
        }),
        now: context.now(),
      });
      if (node.state !== updated.state) {
        request.log.info(
          { from: node.state, to: updated.state },
          "node state changed by heartbeat",
        );
      }
      return {
        node_id: updated.id,
        state: updated.state,
        server_time: context.now().toISOString(),
        heartbeat_interval_ms: toHeartbeatInterval(config.agent_offline_after_ms),
        offline_after_ms: config.agent_offline_after_ms,
        lease_ms: config.agent_lease_ms,
      };
    },
  );

  api.post<{ Body: { max?: number; wait_ms?: number } }>(
    "/agent/leases",
    {
      config: { permission: "node" },
      schema: {
        tags: ["agent"],
        summary: "Long-poll for task leases",
        description: `Returns due tasks at once; with none, waits up to wait_ms (at most ${MAX_LEASE_WAIT_MS}) for one and returns {leases: []} when none came. A workload.oci_launch lease carries pull_credential: a username and password for the registry token service, valid for the spec's repository only, until the lease ends.`,
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            max: { type: "integer", minimum: 1, maximum: MAX_LEASES, default: 1 },
            wait_ms: { type: "integer", minimum: 0, maximum: MAX_LEASE_WAIT_MS, default: 0 },
          },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const node = agentNode(request);
      const deadline = Date.now() + (request.body.wait_ms ?? 0);
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      for (;;) {
        const leases = await leaseAgentTasks(db, {
          node_id: node.id,
          max: request.body.max ?? 1,
          lease_ms: config.agent_lease_ms,
          registry_host: registryHost,
          now: context.now(),
        });
        const left = deadline - Date.now();
        if (leases.length > 0 || left <= 0 || signal.closed || gone.signal.aborted) {
          if (leases.length > 0) {
            request.log.info(
              {
                tasks: leases.map((lease) => ({
                  task_id: lease.task_id,
                  kind: lease.kind,
                  attempt: lease.attempt,
                })),
              },
              "tasks leased",
            );
          }
          reply.header("cache-control", "no-store");
          return { leases };
        }
        await signal.wait(`node:${node.id}`, Math.min(LEASE_POLL_MS, left), gone.signal);
        // Closing (or a caller that hung up) ends the poll without leasing what nobody receives.
        if (signal.closed || gone.signal.aborted) return { leases: [] };
      }
    },
  );

  api.post<{ Params: { task_id: string } }>(
    "/agent/tasks/:task_id/extend",
    {
      config: { permission: "node" },
      schema: {
        tags: ["agent"],
        summary: "Extend a lease this node holds by another lease period",
        description:
          "No body. The task's pull credential is extended with it. 409 task.lease_not_held when the lease moved on or the task is done.",
        params: taskParams,
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const node = agentNode(request);
      const now = context.now();
      const task = await inTransaction(db, async (tx) => {
        await assertTaskOfNode(tx, request.params.task_id, node.id);
        const extended = await extendTaskLease(tx, {
          id: request.params.task_id,
          owner: toLeaseOwner(node.id),
          lease_ms: config.agent_lease_ms,
          now,
        });
        await extendPullCredential(tx, {
          task_id: extended.id,
          expires_at: new Date(extended.lease_expires_at ?? now.toISOString()),
        });
        return extended;
      });
      return { task_id: task.id, lease_expires_at: task.lease_expires_at };
    },
  );

  api.post<{
    Params: { task_id: string };
    Body: { status: "succeeded" | "failed"; result?: JsonObject };
  }>(
    "/agent/tasks/:task_id/result",
    {
      config: { permission: "node" },
      schema: {
        tags: ["agent"],
        summary: "Post a task's outcome; the control plane reconciles its instance",
        description:
          "Only the node holding the lease may post. Repeating a result already recorded answers duplicate: true and changes nothing. 409 task.lease_not_held when the lease moved to another owner or the task finished otherwise; 404 for a task of another node.",
        params: taskParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["status"],
          properties: {
            status: { type: "string", enum: ["succeeded", "failed"] },
            result: { type: "object", additionalProperties: true, default: {} },
          },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const node = agentNode(request);
      const reconciled = await reconcileTaskResult(db, {
        node_id: node.id,
        task_id: request.params.task_id,
        status: request.body.status,
        result: (request.body.result ?? {}) as JsonValue,
        now: context.now(),
        ingress: context.ingress.settings,
      });
      context.ingress.afterCommit();
      signal.notify(`task:${reconciled.task_id}`);
      request.log.info(
        {
          task_id: reconciled.task_id,
          status: reconciled.state,
          duplicate: reconciled.duplicate,
          instance: reconciled.instance,
        },
        "task result recorded",
      );
      return reconciled;
    },
  );

  api.post<{ Body: { containers: ReportedContainerBody[] } }>(
    "/agent/inventory/containers",
    {
      config: { permission: "node" },
      schema: {
        tags: ["agent"],
        summary: "Report the platform containers found on the node (by label)",
        description:
          "Sent after an agent restart or when the node comes back online. Instances in unknown with no task pending are reconciled to running, stopped, decommissioned or failed; orphans lists labelled containers whose instance is gone.",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["containers"],
          properties: { containers: { type: "array", maxItems: 1024, items: containerSchema } },
        },
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const node = agentNode(request);
      const report = await reconcileContainerReport(db, {
        node_id: node.id,
        containers: request.body.containers.map((container) => ({
          name: container.name,
          state: container.state,
          ...(container.container_id !== undefined ? { container_id: container.container_id } : {}),
          ...(container.running !== undefined ? { running: container.running } : {}),
          ...(container.labels !== undefined ? { labels: container.labels } : {}),
          ...(container.ports !== undefined ? { ports: container.ports } : {}),
        })),
        correlation_id: request.id,
        now: context.now(),
        ingress: context.ingress.settings,
      });
      context.ingress.afterCommit();
      if (report.reconciled.length > 0) {
        request.log.info(
          { reconciled: report.reconciled.length },
          "instances reconciled from container report",
        );
      }
      return report;
    },
  );
}

/** A task of another node is reported as absent, so its existence does not leak. */
async function assertTaskOfNode(
  tx: AppContext["store"]["db"],
  taskId: string,
  nodeId: string,
): Promise<void> {
  const row = await tx
    .selectFrom("node_tasks")
    .select("node_id")
    .where("id", "=", taskId)
    .executeTakeFirst();
  if (row === undefined || row.node_id !== nodeId) {
    throw new ApiError("resource.not_found", `no task ${taskId} on this node`);
  }
}

/** Heartbeats come three times per offline window, so one lost heartbeat is not an outage. */
function toHeartbeatInterval(offlineAfterMs: number): number {
  return Math.max(1_000, Math.floor(offlineAfterMs / 3));
}
