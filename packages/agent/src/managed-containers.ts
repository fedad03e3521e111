import { LABEL_PREFIX } from "@gpuaas/engines";
import type { ContainerDetails, ContainerRuntime } from "./container-runtime.js";

/** Labels the agent relies on; set on every container it creates. */
export const AGENT_LABELS = {
  managed: `${LABEL_PREFIX}.managed`,
  instance: `${LABEL_PREFIX}.instance`,
  generation: `${LABEL_PREFIX}.generation`,
  correlationId: `${LABEL_PREFIX}.correlation-id`,
  project: `${LABEL_PREFIX}.project`,
  node: `${LABEL_PREFIX}.node`,
} as const;

/** True when the agent created this container for this instance (by its labels). */
export function isManagedFor(details: ContainerDetails, instanceId: string): boolean {
  return (
    details.labels[AGENT_LABELS.managed] === "true" &&
    details.labels[AGENT_LABELS.instance] === instanceId
  );
}

/**
 * Stops a running container with a grace period (SIGTERM, then SIGKILL), then removes it, so a
 * workload can flush its state before it goes. A failed stop does not prevent the removal.
 */
export async function stopAndRemove(
  runtime: ContainerRuntime,
  details: ContainerDetails,
  graceSeconds: number,
): Promise<boolean> {
  if (details.running && graceSeconds > 0) {
    await runtime.stopContainer(details.name, graceSeconds).catch(() => undefined);
  }
  return runtime.removeContainer(details.name);
}
