import type { AgentDeps } from "./agent-deps.js";
import { toGpuProbe } from "./agent-deps.js";
import type { RuntimeProbe } from "./container-runtime.js";
import type { HostGpuInventory } from "./gpu-inventory.js";
import { freeDiskBytes } from "./host-checks.js";
import { AGENT_LABELS } from "./managed-containers.js";

/** The result of `workload.oci_runtime_status`: what the host offers, nothing changed. */
export interface OciRuntimeStatusResult {
  readonly kind: "workload.oci_runtime_status";
  readonly ok: boolean;
  /** The runtime this agent drives. */
  readonly runtime: RuntimeProbe;
  /** Other runtimes probed (when given), for the inventory. */
  readonly other_runtimes: readonly RuntimeProbe[];
  readonly gpus: HostGpuInventory;
  /** Whether GPU workloads can run here per vendor, and why not. */
  readonly gpu_paths: {
    readonly nvidia: { readonly ready: boolean; readonly reason: string };
    readonly amd: { readonly ready: boolean; readonly reason: string };
  };
  readonly disk: readonly { readonly path: string; readonly free_bytes: number | null }[];
  readonly managed_containers: number;
  readonly host_architecture: string;
}

function nvidiaPath(
  probe: RuntimeProbe,
  gpus: HostGpuInventory,
): { ready: boolean; reason: string } {
  if (gpus.nvidia.tool !== "present" || gpus.nvidia.gpus.length === 0) {
    return { ready: false, reason: "no NVIDIA GPU visible (nvidia-smi absent or empty)" };
  }
  if (probe.name === "podman") {
    const cdi = gpus.cdi.specs.some((spec) => spec.kind === "nvidia.com/gpu");
    return cdi
      ? { ready: true, reason: "CDI spec for nvidia.com/gpu present" }
      : { ready: false, reason: "no CDI spec for nvidia.com/gpu (nvidia-ctk cdi generate)" };
  }
  if (probe.name === "docker") {
    if (probe.podman_backend === true) {
      return { ready: false, reason: "docker socket is podman compat: GPU requests are dropped" };
    }
    return probe.nvidia_runtime === true
      ? { ready: true, reason: "dockerd has the nvidia runtime" }
      : { ready: false, reason: "dockerd has no nvidia runtime (nvidia-ctk runtime configure)" };
  }
  return { ready: true, reason: "nerdctl with NVIDIA GPUs visible" };
}

/**
 * Runs `workload.oci_runtime_status`: probes the runtime (version and info only), the GPUs, CDI
 * specs, disk and counts managed containers. Non-mutating: it creates, pulls and deletes nothing.
 */
export async function runOciRuntimeStatus(
  deps: AgentDeps,
  others: readonly RuntimeProbe[] = [],
): Promise<OciRuntimeStatusResult> {
  const { runtime, config } = deps;
  const [probe, gpus] = await Promise.all([runtime.probe(), toGpuProbe(deps)()]);
  const filter: Record<string, string> = { [AGENT_LABELS.managed]: "true" };
  if (config.nodeId !== undefined) filter[AGENT_LABELS.node] = config.nodeId;
  const managed = probe.answering
    ? (await runtime.listContainers(filter).catch(() => [])).length
    : 0;
  const paths = [config.workloadsRoot, config.projectStorageRoot];
  if (probe.storage_root !== undefined) paths.push(probe.storage_root);
  const disk = await Promise.all(
    paths.map(async (path) => ({ path, free_bytes: (await freeDiskBytes(path)) ?? null })),
  );
  return {
    kind: "workload.oci_runtime_status",
    ok: probe.answering,
    runtime: probe,
    other_runtimes: others.filter((other) => other.name !== probe.name),
    gpus,
    gpu_paths: {
      nvidia: nvidiaPath(probe, gpus),
      amd: gpus.amd.kfd
        ? {
            ready: gpus.amd.indices.length > 0,
            reason: `${gpus.amd.indices.length} render node(s)`,
          }
        : { ready: false, reason: "/dev/kfd absent" },
    },
    disk,
    managed_containers: managed,
    host_architecture: config.hostArchitecture,
  };
}
