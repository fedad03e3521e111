import type { ArtifactState, InstanceState } from "@gpuaas/contract";
import type { AllocationState, NodeState } from "./types.js";

type Transitions<S extends string> = { readonly [From in S]: readonly S[] };

/**
 * The observed-state lifecycle of an instance: `pending → deploying → running`, a stop
 * (`stopping → stopped`), a start (`starting`), a restart (`restarting`), decommissioning, and
 * `failed` from any step that does work. `unknown` is entered when a node's agent is lost while
 * the instance was doing or running something, and left when the agent reports again.
 */
export const INSTANCE_TRANSITIONS: Transitions<InstanceState> = {
  pending: ["deploying", "failed", "decommissioning"],
  deploying: ["running", "failed", "stopping", "decommissioning", "unknown"],
  running: ["stopping", "restarting", "failed", "decommissioning", "unknown"],
  failed: ["deploying", "starting", "decommissioning"],
  stopping: ["stopped", "failed", "unknown"],
  stopped: ["starting", "decommissioning"],
  starting: ["running", "failed", "stopping", "unknown"],
  restarting: ["running", "failed", "unknown"],
  decommissioning: ["decommissioned", "failed", "unknown"],
  decommissioned: [],
  unknown: ["running", "stopped", "failed", "decommissioning", "decommissioned"],
};

/** `pending → verified → published → promoted`; any state but `retired` may be retired. */
export const ARTIFACT_TRANSITIONS: Transitions<ArtifactState> = {
  pending: ["verified", "retired"],
  verified: ["published", "retired"],
  published: ["promoted", "retired"],
  promoted: ["retired"],
  retired: [],
};

/** An allocation is released, possibly through `releasing` while its instances wind down. */
export const ALLOCATION_TRANSITIONS: Transitions<AllocationState> = {
  active: ["releasing", "released"],
  releasing: ["released"],
  released: [],
};

/** A node joins (`pending → online`), comes and goes, may be drained, and is finally retired. */
export const NODE_TRANSITIONS: Transitions<NodeState> = {
  pending: ["online", "retired"],
  online: ["offline", "draining", "retired"],
  offline: ["online", "draining", "retired"],
  draining: ["online", "offline", "retired"],
  retired: [],
};

/** Instance states that hold their GPU claim: every state but the two that free the devices. */
export const GPU_HOLDING_STATES: readonly InstanceState[] = (
  Object.keys(INSTANCE_TRANSITIONS) as InstanceState[]
).filter((state) => state !== "failed" && state !== "decommissioned");

/** True when `table` allows going from `from` to `to`. */
export function canTransition<S extends string>(table: Transitions<S>, from: S, to: S): boolean {
  return table[from].includes(to);
}
