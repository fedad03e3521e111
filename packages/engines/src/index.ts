export type {
  AdapterInput,
  Placement,
  ResolvedArtifact,
  WorkloadIdentity,
} from "./adapter-input.js";
export {
  DEFAULT_PIDS_LIMIT,
  LABEL_PREFIX,
  NODE_TASK_KINDS,
  type NodeTaskKind,
  type NodeTaskSpec,
  type OciControlSpec,
  type OciLaunchSpec,
  type OciRemoveSpec,
  type PortBinding,
  renderOciControl,
  renderOciLaunch,
  renderOciRemove,
  toContainerLabels,
  toContainerName,
  toPendingState,
  type WorkloadMount,
} from "./render-node-task.js";
export { RENDERABLE_ENGINES, selectEngine } from "./select-engine.js";
