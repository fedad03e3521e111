import type {
  AcceleratorVendor,
  CpuArchitecture,
  ResolvedLaunch,
  WorkloadProfile,
} from "@gpuaas/contract";

/** Who the workload belongs to and which launch of it this is. */
export interface WorkloadIdentity {
  readonly project_id: string;
  readonly instance_id: string;
  /** Bumped on every change of the desired spec (launch, upgrade, rollback). */
  readonly generation: number;
  readonly correlation_id: string;
}

/** Where the workload runs: the allocation, its node and the GPUs claimed for this instance. */
export interface Placement {
  readonly allocation_id: string;
  readonly node_id: string;
  readonly cpu_architecture: CpuArchitecture;
  readonly accelerator_vendor: AcceleratorVendor;
  /** Device indices claimed for this instance, a subset of the allocation's mask. */
  readonly gpu_indices: readonly number[];
  /** The allocation's GPU mask: every host device index it may use (empty for CPU-only). */
  readonly gpu_mask: readonly number[];
}

/** The digest-pinned image to run. Pull credentials are minted per lease, never rendered here. */
export interface ResolvedArtifact {
  readonly artifact_id: string;
  /** Registry host and port, e.g. `127.0.0.1:5055`. */
  readonly registry: string;
  /** Repository inside the registry, e.g. `jupyterlab/runtime-cpu`. */
  readonly repository: string;
  readonly digest: string;
  readonly media_type: string;
}

/**
 * The one input every execution adapter receives (seed: "Execution Engine Adapter Boundary"):
 * the profile, the validated launch values, identity, placement, the resolved artifact; storage
 * and endpoint decisions are in `launch`.
 */
export interface AdapterInput {
  readonly profile: WorkloadProfile;
  readonly launch: ResolvedLaunch;
  readonly identity: WorkloadIdentity;
  readonly placement: Placement;
  readonly artifact: ResolvedArtifact;
}
