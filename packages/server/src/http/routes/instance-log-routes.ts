/**
 * `GET …/app-instances/{id}/logs`: the container's recent output, fetched through the node's
 * agent. The route queues a `workload.oci_logs` task and waits (bounded) for its result; the
 * agent redacts the lines and the control plane redacts them again before answering. The lines
 * are not kept: once delivered, the task's stored result is cut down to a count.
 */
import { toContainerName } from "@gpuaas/engines";
import type { FastifyInstance } from "fastify";
import { redactText } from "../../reconcile/redact-secrets.js";
import { taskSignalFor } from "../../reconcile/task-signal.js";
import {
  type AgentTask,
  enqueueAgentTask,
  getAgentTask,
  replaceTaskResult,
  withdrawTask,
} from "../../store/agent-tasks.js";
import { getInstance, getNode } from "../../store/index.js";
import { getInstanceNode } from "../../store/node-instances.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { errorResponse, errorResponses, idSchema } from "../route-schemas.js";

/** Lines returned when `tail` is not given. */
export const DEFAULT_LOG_TAIL = 100;
/** Most lines one request may ask for. */
export const MAX_LOG_TAIL = 1_000;
/** Longest line returned; longer ones are cut and marked. */
export const MAX_LOG_LINE = 8_192;

const POLL_MS = 100;

/** The logs route. */
export function registerInstanceLogRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;
  const signal = taskSignalFor(context);
  const timeoutMs = context.config.instance_logs_timeout_ms;

  api.get<{
    Params: { project_id: string; instance_id: string };
    Querystring: { tail?: string };
  }>(
    "/projects/:project_id/app-instances/:instance_id/logs",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["instances"],
        summary: "Read the recent output of an instance's container, redacted",
        description: `Asks the node's agent for the last tail lines (default ${DEFAULT_LOG_TAIL}, at most ${MAX_LOG_TAIL}) and waits up to ${timeoutMs} ms. 504 instance.logs_timeout when the agent does not answer in time; 409 instance.logs_unavailable when the instance has no container or its node is offline; 502 instance.logs_failed when the agent could not read them.`,
        params: {
          type: "object",
          additionalProperties: false,
          required: ["project_id", "instance_id"],
          properties: { project_id: idSchema, instance_id: idSchema },
        },
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { tail: { type: "string", pattern: "^[0-9]{1,4}$" } },
        },
        response: {
          200: {
            type: "object",
            required: ["instance_id", "lines"],
            properties: {
              instance_id: { type: "string" },
              node_id: { type: "string" },
              tail: { type: "integer" },
              lines: { type: "array", items: { type: "string" } },
              truncated: { type: "boolean" },
            },
          },
          ...errorResponses,
          502: errorResponse,
          504: errorResponse,
        },
      },
    },
    async (request) => {
      const { project_id, instance_id } = request.params;
      const tail = Math.min(
        MAX_LOG_TAIL,
        Math.max(1, Number(request.query.tail ?? DEFAULT_LOG_TAIL) || DEFAULT_LOG_TAIL),
      );
      const instance = await getInstance(db, instance_id, { project_id });
      if (instance === undefined) {
        throw new ApiError("resource.not_found", `no instance ${instance_id} in this project`);
      }
      if (instance.state === "pending" || instance.state === "decommissioned") {
        throw new ApiError(
          "instance.logs_unavailable",
          instance.state === "pending"
            ? `instance ${instance_id} has not been deployed yet, so it has no output; retry once it is deploying`
            : `instance ${instance_id} is decommissioned and its container is gone`,
          { details: { state: instance.state } },
        );
      }
      const placed = await getInstanceNode(db, instance_id);
      const node = placed === undefined ? undefined : await getNode(db, placed.node_id);
      if (node === undefined || node.state !== "online") {
        throw new ApiError(
          "instance.logs_unavailable",
          `the node of instance ${instance_id} is ${node?.state ?? "missing"}, so its agent cannot read the logs; retry when the node is online again`,
          { details: { node_state: node?.state ?? null } },
        );
      }
      const task = await enqueueAgentTask(db, {
        node_id: node.id,
        instance_id,
        kind: "workload.oci_logs",
        spec: {
          kind: "workload.oci_logs",
          spec_version: 1,
          identity: {
            project_id,
            instance_id,
            generation: instance.generation,
            correlation_id: request.id,
          },
          container_name: toContainerName(instance_id),
          tail,
        },
        correlation_id: request.id,
      });
      signal.notify(`node:${node.id}`);
      const done = await waitForResult(task.id);
      if (done === undefined) {
        const withdrawn = await withdrawTask(db, { id: task.id, now: context.now() });
        request.log.warn({ task_id: task.id, withdrawn }, "logs request timed out");
        throw new ApiError(
          "instance.logs_timeout",
          `the agent of node ${node.name} did not send the logs within ${Math.round(timeoutMs / 100) / 10} s; it may be busy with a long task or unreachable. Retry, or check the node's last heartbeat (GET /api/v1/nodes/${node.id})`,
          { details: { node_id: node.id, timeout_ms: timeoutMs, task_id: task.id } },
        );
      }
      const result = toRecord(done.result);
      if (done.state === "failed") {
        const error = toRecord(result.error);
        throw new ApiError(
          "instance.logs_failed",
          `the agent could not read the logs: ${typeof error.message === "string" ? redactText(error.message) : "no reason given"}`,
          {
            details: {
              task_id: done.id,
              agent_code: typeof error.code === "string" ? error.code : "task.failed",
            },
          },
        );
      }
      // `lines`, or the agent's `text` (its log reader's output) split into lines.
      const raw = Array.isArray(result.lines)
        ? result.lines
        : typeof result.text === "string"
          ? result.text.replace(/\n$/, "").split(/\r?\n/)
          : [];
      const strings = raw.filter((line): line is string => typeof line === "string");
      const lines = strings
        .slice(-tail)
        .map((line) =>
          redactText(line.length > MAX_LOG_LINE ? `${line.slice(0, MAX_LOG_LINE)}…` : line),
        );
      await replaceTaskResult(db, {
        id: done.id,
        result: { line_count: lines.length, delivered_at: context.now().toISOString() },
      });
      return {
        instance_id,
        node_id: node.id,
        tail,
        lines,
        truncated: strings.length > tail || result.truncated === true,
      };
    },
  );

  /** The completed task, or undefined when the wait ran out. */
  async function waitForResult(taskId: string): Promise<AgentTask | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await getAgentTask(db, taskId);
      if (task === undefined) return undefined;
      if (task.state === "succeeded" || task.state === "failed") return task;
      const left = deadline - Date.now();
      if (left <= 0 || signal.closed) return undefined;
      await signal.wait(`task:${taskId}`, Math.min(POLL_MS, left));
    }
  }
}

function toRecord(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
