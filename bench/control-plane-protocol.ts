// What bench/control-plane.ts and the API process it starts (control-plane-server.ts) say to
// each other over IPC, the size of the seeded world, and the launch body both send.
import type { JsonObject } from "@gpuaas/server";

/** The seeded world: 1,000 allocations (eight one-GPU shares per node) and 10,000 instances. */
export const SEED = {
  projects: 10,
  allocations: 1_000,
  gpusPerNode: 8,
  instances: 10_000,
} as const;

/** What the API process reports once it listens on a seeded store. */
export interface SeedReport {
  /** Milliseconds: `open_ms`, `seed_world_ms`, `seed_instances_ms`. */
  readonly timings: Readonly<Record<string, number>>;
  readonly rows: Readonly<Record<string, number>>;
  /** `SELECT version()` of the store's engine. */
  readonly server_version: string;
  readonly url: string;
  /** A project_member of every seeded project. */
  readonly token: string;
  /** The JupyterLab catalog version launches ask for. */
  readonly version: string;
  readonly allocations: readonly { readonly id: string; readonly project_id: string }[];
  readonly instances: readonly { readonly id: string; readonly project_id: string }[];
}

/** The bench's questions to the API process. */
export type BenchRequest =
  | { type: "usage" }
  | { type: "settle" }
  | { type: "rows" }
  | { type: "close" };

/** The API process's messages. */
export type BenchReply =
  | { type: "ready"; seed: SeedReport }
  | { type: "unavailable"; reason: string }
  | { type: "failed"; reason: string }
  | {
      type: "usage";
      cpu: NodeJS.CpuUsage;
      elu: { idle: number; active: number; utilization: number };
    }
  | { type: "settled"; ms: number }
  | { type: "rows"; rows: Record<string, number> }
  | { type: "closed" };

/** The seed's JupyterLab launch, CPU only (`gpu_count: 0`) so GPUs never run out. */
export function toLaunchBody(version: string, allocationId: string, n: number): JsonObject {
  return {
    app_slug: "jupyterlab",
    app_version: version,
    display_name: `bench ${n}`,
    placement_intent: { target_allocation_id: allocationId },
    config: {
      workspace_mount: "project_storage",
      exposure_mode: "private",
      host_port: 8888,
      python_packages: "numpy==2.4.4 pandas>=2.2",
    },
    resource_overrides: { gpu_count: 0, cpu_cores: 2, memory_gib: 4 },
  };
}
