import type { AgentDeps } from "./agent-deps.js";
import { AGENT_LABELS } from "./managed-containers.js";
import { sweepAuthDirs } from "./registry-auth.js";

/**
 * A container the agent manages, as its labels describe it. `name`, `container_id`, `state`,
 * `labels` and `ports` are what the control plane's container report reads.
 */
export interface ManagedContainer {
  readonly container_id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly instance_id: string;
  readonly project_id: string | null;
  readonly generation: number | null;
  readonly correlation_id: string | null;
  readonly state: string;
  readonly running: boolean;
  readonly exit_code: number | null;
  readonly oom_killed: boolean;
  readonly ports: readonly { readonly container_port: number; readonly host_port: number }[];
}

/** What the agent found after a restart. */
export interface RebuiltState {
  readonly containers: readonly ManagedContainer[];
  /** Auth directories left by pulls an earlier agent process did not finish, now deleted. */
  readonly auth_dirs_removed: number;
}

/**
 * Rebuilds the agent's view of its workloads from container labels (instance, generation,
 * correlation id), so a restarted agent can report and reconcile without local state, and deletes
 * auth files an interrupted pull left behind. Lists only this node's containers when `nodeId` is
 * configured.
 */
export async function rebuildState(deps: AgentDeps): Promise<RebuiltState> {
  const { runtime, config } = deps;
  const filter: Record<string, string> = { [AGENT_LABELS.managed]: "true" };
  if (config.nodeId !== undefined) filter[AGENT_LABELS.node] = config.nodeId;
  const containers = await runtime.listContainers(filter);
  const authDirsRemoved = await sweepAuthDirs(config.secretsDir);
  return {
    containers: containers
      .filter((details) => details.labels[AGENT_LABELS.instance] !== undefined)
      .map((details) => {
        const generation = Number(details.labels[AGENT_LABELS.generation]);
        return {
          container_id: details.id,
          name: details.name,
          labels: details.labels,
          instance_id: details.labels[AGENT_LABELS.instance] ?? "",
          project_id: details.labels[AGENT_LABELS.project] ?? null,
          generation: Number.isSafeInteger(generation) ? generation : null,
          correlation_id: details.labels[AGENT_LABELS.correlationId] ?? null,
          state: details.state,
          running: details.running,
          exit_code: details.running ? null : details.exit_code,
          oom_killed: details.oom_killed,
          ports: details.ports.map((port) => ({
            container_port: port.container_port,
            host_port: port.host_port,
          })),
        };
      })
      .sort((a, b) => a.instance_id.localeCompare(b.instance_id)),
    auth_dirs_removed: authDirsRemoved,
  };
}
