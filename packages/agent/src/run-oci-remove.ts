import type { OciRemoveSpec } from "@gpuaas/engines";
import type { AgentDeps } from "./agent-deps.js";
import { type AgentError, toAgentError } from "./agent-errors.js";
import { RuntimeCommandError } from "./container-runtime.js";
import { isManagedFor, stopAndRemove } from "./managed-containers.js";
import { createRedactor, redactDeep } from "./redact.js";
import { sweepAuthDirs } from "./registry-auth.js";
import { removeScratchDir } from "./workload-paths.js";

/** The result of `workload.oci_remove`. */
export interface OciRemoveResult {
  readonly kind: "workload.oci_remove";
  readonly ok: boolean;
  readonly instance_id: string;
  readonly correlation_id: string;
  /** False when there was no container (already removed: the task is idempotent). */
  readonly container_removed: boolean;
  readonly scratch_removed: boolean;
  /** Auth directories of this instance left by an interrupted pull, now deleted. */
  readonly auth_dirs_removed: number;
  readonly error?: AgentError;
  readonly duration_ms: number;
}

/**
 * Runs `workload.oci_remove`: stops the instance's container (the configured grace period), removes it, its scratch directory and any auth
 * file an interrupted pull left behind. Project storage is kept. Removing what is already gone
 * succeeds. Refuses to remove a same-named container this agent did not create for the instance.
 */
export async function runOciRemove(spec: OciRemoveSpec, deps: AgentDeps): Promise<OciRemoveResult> {
  const started = Date.now();
  const redact = createRedactor(deps.secrets ?? []);
  const { runtime, config } = deps;
  const correlationId = spec.identity.correlation_id;
  const instanceId = spec.identity.instance_id;
  let containerRemoved = false;
  let scratchRemoved = false;
  let authDirsRemoved = 0;
  const finish = (error?: AgentError): OciRemoveResult =>
    redactDeep(
      {
        kind: "workload.oci_remove",
        ok: error === undefined,
        instance_id: instanceId,
        correlation_id: correlationId,
        container_removed: containerRemoved,
        scratch_removed: scratchRemoved,
        auth_dirs_removed: authDirsRemoved,
        ...(error !== undefined ? { error } : {}),
        duration_ms: Date.now() - started,
      },
      redact,
    );
  try {
    const existing = await runtime.inspectContainer(spec.container_name);
    if (existing !== undefined) {
      if (!isManagedFor(existing, instanceId)) {
        return finish(
          toAgentError(
            "remove.failed",
            `${spec.container_name} exists but was not created by this agent for instance ${instanceId}: it was left alone; remove it by hand if it is stale`,
            correlationId,
          ),
        );
      }
      containerRemoved = await stopAndRemove(runtime, existing, config.stopTimeoutSeconds);
    }
    authDirsRemoved = await sweepAuthDirs(config.secretsDir, instanceId);
    if (spec.remove_scratch) scratchRemoved = await removeScratchDir(config, instanceId);
    return finish();
  } catch (error) {
    const detail =
      error instanceof RuntimeCommandError
        ? error.stderr || error.message
        : error instanceof Error
          ? error.message
          : String(error);
    return finish(
      toAgentError(
        "remove.failed",
        `removing instance ${instanceId} failed (${detail}): retry the removal`,
        correlationId,
      ),
    );
  }
}
