import type { AgentConfig } from "./agent-config.js";
import type { TaskPhase } from "./agent-errors.js";
import type { ContainerRuntime } from "./container-runtime.js";
import { type HostGpuInventory, probeHostGpus } from "./gpu-inventory.js";
import type { PullCredential } from "./registry-auth.js";

/** A progress event of a task, for the instance's event stream. Redacted before it is emitted. */
export interface TaskEvent {
  readonly kind: "phase" | "warning";
  readonly phase: TaskPhase | "done";
  readonly message: string;
  readonly instance_id: string;
  readonly correlation_id: string;
  readonly at: string;
}

/** What every task handler needs: the runtime driver and the agent's configuration. */
export interface AgentDeps {
  readonly runtime: ContainerRuntime;
  readonly config: AgentConfig;
  /** The host's GPU inventory; defaults to {@link probeHostGpus} with the configured paths. */
  readonly probeGpus?: () => Promise<HostGpuInventory>;
  /** HTTP client of readiness probes; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Receives progress events (already redacted). */
  readonly onEvent?: (event: TaskEvent) => void;
  /** Further strings to redact from everything the handler returns. */
  readonly secrets?: readonly string[];
  /** Wall clock; injectable for tests. */
  readonly now?: () => Date;
}

/** What a launch needs besides {@link AgentDeps}: the task's credential and its allocation's GPUs. */
export interface LaunchDeps extends AgentDeps {
  /** Per-task pull credential; absent pulls anonymously. */
  readonly credential?: PullCredential;
  /** GPU indices of the allocation the task runs in; requests outside it are refused. */
  readonly gpuMask?: readonly number[];
  readonly signal?: AbortSignal;
}

/** The GPU inventory source of a deps object. */
export function toGpuProbe(deps: AgentDeps): () => Promise<HostGpuInventory> {
  return (
    deps.probeGpus ??
    (() => probeHostGpus({ devRoot: deps.config.devRoot, cdiDirs: deps.config.cdiDirs }))
  );
}
