import type { OciControlSpec } from "@gpuaas/engines";
import type { AgentDeps } from "./agent-deps.js";
import { type AgentError, toAgentError } from "./agent-errors.js";
import { type ContainerDetails, RuntimeCommandError } from "./container-runtime.js";
import { isManagedFor } from "./managed-containers.js";
import { createRedactor, redactDeep } from "./redact.js";

/** The result of `workload.oci_control`. */
export interface OciControlResult {
  readonly kind: "workload.oci_control";
  readonly ok: boolean;
  readonly action: OciControlSpec["action"];
  readonly instance_id: string;
  readonly correlation_id: string;
  /** False when the container was already in the requested state. */
  readonly changed: boolean;
  readonly container?: {
    readonly id: string;
    readonly state: string;
    readonly running: boolean;
    readonly exit_code: number | null;
    /** Host ports may change on start when the runtime picked them. */
    readonly ports: readonly { readonly container_port: number; readonly host_port: number }[];
  };
  readonly error?: AgentError;
  readonly duration_ms: number;
}

function toSummary(details: ContainerDetails): NonNullable<OciControlResult["container"]> {
  return {
    id: details.id,
    state: details.state,
    running: details.running,
    exit_code: details.running ? null : details.exit_code,
    ports: details.ports.map((port) => ({
      container_port: port.container_port,
      host_port: port.host_port,
    })),
  };
}

/**
 * Runs `workload.oci_control`: stop, start or restart an instance's container. Idempotent: stopping
 * a stopped container or starting a running one succeeds with `changed: false`. Refuses to touch a
 * container this agent did not create for the instance.
 */
export async function runOciControl(
  spec: OciControlSpec,
  deps: AgentDeps,
): Promise<OciControlResult> {
  const started = Date.now();
  const redact = createRedactor(deps.secrets ?? []);
  const { runtime } = deps;
  const correlationId = spec.identity.correlation_id;
  const base = {
    kind: "workload.oci_control" as const,
    action: spec.action,
    instance_id: spec.identity.instance_id,
    correlation_id: correlationId,
  };
  const failWith = (error: AgentError, details?: ContainerDetails): OciControlResult =>
    redactDeep(
      {
        ...base,
        ok: false,
        changed: false,
        ...(details !== undefined ? { container: toSummary(details) } : {}),
        error,
        duration_ms: Date.now() - started,
      },
      redact,
    );
  try {
    const before = await runtime.inspectContainer(spec.container_name);
    if (before === undefined || !isManagedFor(before, spec.identity.instance_id)) {
      return failWith(
        toAgentError(
          "control.not_found",
          `no container ${spec.container_name} of instance ${spec.identity.instance_id} on this host: relaunch the instance`,
          correlationId,
        ),
      );
    }
    let changed = true;
    if (spec.action === "stop") {
      if (before.running)
        await runtime.stopContainer(spec.container_name, spec.stop_timeout_seconds);
      else changed = false;
    } else if (spec.action === "start") {
      if (!before.running) await runtime.startContainer(spec.container_name);
      else changed = false;
    } else {
      await runtime.restartContainer(spec.container_name, spec.stop_timeout_seconds);
    }
    const after = (await runtime.inspectContainer(spec.container_name)) ?? before;
    const expectRunning = spec.action !== "stop";
    if (after.running !== expectRunning) {
      return failWith(
        toAgentError(
          "control.failed",
          `${spec.action} finished but the container is ${after.state} (exit code ${after.exit_code ?? "?"}${after.oom_killed ? ", out of memory" : ""}): read its logs`,
          correlationId,
        ),
        after,
      );
    }
    return redactDeep(
      {
        ...base,
        ok: true,
        changed,
        container: toSummary(after),
        duration_ms: Date.now() - started,
      },
      redact,
    );
  } catch (error) {
    const detail =
      error instanceof RuntimeCommandError
        ? error.stderr || error.message
        : error instanceof Error
          ? error.message
          : String(error);
    return failWith(
      toAgentError(
        "control.failed",
        `${runtime.name} could not ${spec.action} ${spec.container_name} (${detail}): retry, or read the container's logs`,
        correlationId,
      ),
    );
  }
}
