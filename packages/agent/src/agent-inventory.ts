import type { OciRuntimeStatusResult } from "./run-oci-runtime-status.js";

/** The version this agent reports in its inventory. */
export const AGENT_VERSION = "0.1.0";

/**
 * The heartbeat inventory (`docs/agent-protocol.md`) of a runtime status: runtime and version,
 * rootless or not, GPUs (NVIDIA from `nvidia-smi`, AMD render nodes), CDI devices, the GPU path
 * per vendor, free disk per path, and the managed container count. Pure: the status is measured
 * by the caller.
 *
 * @example
 * await client.heartbeat(toHeartbeatInventory(await executor.runtimeStatus()))
 */
export function toHeartbeatInventory(
  status: OciRuntimeStatusResult,
  agentVersion: string = AGENT_VERSION,
): Record<string, unknown> {
  const { runtime, gpus } = status;
  const version = runtime.server_version ?? runtime.client_version;
  const nvidia = gpus.nvidia.gpus.map((gpu) => ({
    index: gpu.index,
    uuid: gpu.uuid.slice(0, 128),
    name: gpu.name.slice(0, 128),
    vendor: "nvidia",
    ...(gpu.memory_mib !== null ? { memory_mib: gpu.memory_mib } : {}),
    ...(gpu.driver_version !== null ? { driver_version: gpu.driver_version.slice(0, 64) } : {}),
  }));
  const amd = gpus.amd.kfd
    ? gpus.amd.indices.map((index) => ({ index, vendor: "amd", name: `renderD${128 + index}` }))
    : [];
  const devices = gpus.cdi.specs
    .flatMap((spec) => spec.devices.map((device) => `${spec.kind}=${device}`))
    .slice(0, 256);
  const [workloads, ...others] = status.disk;
  return {
    agent_version: agentVersion,
    runtime: {
      name: runtime.present ? runtime.name : "none",
      ...(version !== undefined ? { version: version.slice(0, 64) } : {}),
      ...(runtime.rootless !== undefined ? { rootless: runtime.rootless } : {}),
      answering: runtime.answering,
      ...(runtime.oci_runtime !== undefined ? { oci_runtime: runtime.oci_runtime } : {}),
      ...(runtime.problem !== undefined ? { problem: runtime.problem.slice(0, 500) } : {}),
    },
    other_runtimes: status.other_runtimes.map((other) => ({
      name: other.name,
      present: other.present,
      answering: other.answering,
    })),
    gpus: [...nvidia, ...amd].slice(0, 64),
    cdi: { enabled: devices.length > 0, devices },
    gpu_paths: status.gpu_paths,
    ...(workloads !== undefined
      ? {
          disk: {
            path: workloads.path,
            ...(workloads.free_bytes !== null ? { free_bytes: workloads.free_bytes } : {}),
          },
        }
      : {}),
    disks: others.map((disk) => ({ path: disk.path, free_bytes: disk.free_bytes })),
    host_architecture: status.host_architecture,
    managed_containers: status.managed_containers,
  };
}
