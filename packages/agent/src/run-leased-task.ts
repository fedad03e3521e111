import type { OciControlSpec, OciLaunchSpec, OciRemoveSpec } from "@gpuaas/engines";
import type { AgentLease } from "./agent-client.js";
import { type AgentErrorCode, toAgentError } from "./agent-errors.js";
import type { OciExecutor } from "./create-oci-executor.js";
import { createRedactor, redactDeep } from "./redact.js";

/** What running a lease produced: the status and result to post. */
export interface LeasedTaskOutcome {
  readonly status: "succeeded" | "failed";
  readonly result: Readonly<Record<string, unknown>>;
}

type Json = Record<string, unknown>;
function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(lease: AgentLease, code: AgentErrorCode, message: string): LeasedTaskOutcome {
  return {
    status: "failed",
    result: {
      kind: lease.kind,
      ok: false,
      error: toAgentError(code, message, lease.correlation_id),
    },
  };
}

/** The problem with a spec's common shape, or undefined: an identity and a container name. */
function checkShape(spec: Json, needsContainerName: boolean): string | undefined {
  const identity = spec.identity;
  if (!isRecord(identity) || typeof identity.instance_id !== "string") {
    return "the task spec has no identity with an instance_id";
  }
  if (needsContainerName && typeof spec.container_name !== "string") {
    return "the task spec has no container_name";
  }
  return undefined;
}

/** The GPU mask a launch spec carries (`gpu_mask`, the allocation's device indices); none: []. */
export function toGpuMask(spec: Readonly<Json>): number[] {
  const mask = spec.gpu_mask;
  return Array.isArray(mask)
    ? mask.filter((index): index is number => Number.isSafeInteger(index) && index >= 0)
    : [];
}

/**
 * Runs one leased task on the executor: `workload.oci_launch` with the lease's pull credential
 * (its `password` is the token) and the spec's GPU mask, `oci_control`, `oci_remove`,
 * `oci_logs` (`{text, truncated}`) and `oci_runtime_status`. Never throws for a task's own
 * failure: the outcome carries the agent's error body. Every result is redacted once more with the
 * lease's password, whatever the handler did.
 */
export async function runLeasedTask(
  lease: AgentLease,
  executor: OciExecutor,
  signal?: AbortSignal,
): Promise<LeasedTaskOutcome> {
  const credential = lease.pull_credential;
  const redact = createRedactor(
    credential !== undefined ? [credential.password] : [],
    credential !== undefined ? [credential.username] : [],
  );
  const outcome = await dispatch(lease, executor, signal).catch(
    (error: unknown): LeasedTaskOutcome =>
      fail(
        lease,
        "internal",
        `the agent failed running ${lease.kind}: ${error instanceof Error ? error.message : String(error)}`,
      ),
  );
  return { status: outcome.status, result: redactDeep(outcome.result, redact) };
}

async function dispatch(
  lease: AgentLease,
  executor: OciExecutor,
  signal: AbortSignal | undefined,
): Promise<LeasedTaskOutcome> {
  const spec = lease.spec as Json;
  const toOutcome = (result: { readonly ok: boolean }): LeasedTaskOutcome => ({
    status: result.ok ? "succeeded" : "failed",
    result: result as unknown as Json,
  });
  switch (lease.kind) {
    case "workload.oci_launch": {
      const problem = checkShape(spec, false);
      if (problem !== undefined || !isRecord(spec.container)) {
        return fail(lease, "task.spec_invalid", problem ?? "the launch spec has no container");
      }
      const credential = lease.pull_credential;
      return toOutcome(
        await executor.launch(spec as unknown as OciLaunchSpec, {
          ...(credential !== undefined
            ? {
                credential: {
                  registry: credential.registry,
                  token: credential.password,
                  username: credential.username,
                  ...(credential.expires_at !== undefined
                    ? { expires_at: credential.expires_at }
                    : {}),
                },
              }
            : {}),
          gpuMask: toGpuMask(spec),
          ...(signal !== undefined ? { signal } : {}),
        }),
      );
    }
    case "workload.oci_control": {
      const problem = checkShape(spec, true);
      if (problem !== undefined) return fail(lease, "task.spec_invalid", problem);
      const result = await executor.control(spec as unknown as OciControlSpec);
      // The container and its host ports at the top level, where the control plane reads a
      // member's endpoint: a runtime-picked host port can change when the container starts again.
      const wire: { readonly ok: boolean } & Json = {
        ...result,
        container_name: spec.container_name,
        ...(result.container !== undefined
          ? {
              container_id: result.container.id,
              ports: result.container.running ? result.container.ports : [],
            }
          : {}),
      };
      return toOutcome(wire);
    }
    case "workload.oci_remove": {
      const problem = checkShape(spec, true);
      if (problem !== undefined) return fail(lease, "task.spec_invalid", problem);
      return toOutcome(await executor.remove(spec as unknown as OciRemoveSpec));
    }
    case "workload.oci_logs": {
      if (typeof spec.container_name !== "string") {
        return fail(lease, "task.spec_invalid", "the logs spec has no container_name");
      }
      const tail = typeof spec.tail === "number" ? spec.tail : 100;
      return toOutcome(await executor.readLogs(spec.container_name, tail));
    }
    case "workload.oci_runtime_status":
      return toOutcome(await executor.runtimeStatus());
    default:
      return fail(
        lease,
        "task.kind_unsupported",
        `this agent does not run ${lease.kind} tasks: upgrade the agent or route the task to another node`,
      );
  }
}
