import { availableParallelism, totalmem } from "node:os";
import type { HostGpuInventory } from "@gpuaas/agent";
import type { LocalHostShape } from "@gpuaas/server";

/** The image-platform name of a Node `process.arch`, when the platform supports it. */
export function toCpuArchitecture(arch: string): LocalHostShape["cpu_architecture"] | undefined {
  if (arch === "x64") return "amd64";
  if (arch === "arm64") return "arm64";
  return undefined;
}

/**
 * A host name the agent protocol accepts (letters, digits, `.`, `_`, `-`, alphanumeric at both
 * ends): other characters become `-`.
 *
 * @example
 * toAgentHostname("my host!") // "my-host"
 */
export function toAgentHostname(name: string): string {
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .slice(0, 253)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return cleaned.length > 0 ? cleaned : "localhost";
}

/**
 * The shape of the machine `gpuaas up` runs on, for its allocation: CPU architecture from
 * `process.arch`, the accelerator and GPU indices from the GPU probe (NVIDIA first, then AMD,
 * else none), CPU cores and memory from `os`, and both storage modes.
 */
export function measureLocalHost(
  name: string,
  gpus: HostGpuInventory,
): { readonly shape?: LocalHostShape; readonly problem?: string } {
  const arch = toCpuArchitecture(process.arch);
  if (arch === undefined) {
    return { problem: `the CPU architecture ${process.arch} is not one the platform runs` };
  }
  const nvidia = gpus.nvidia.gpus.map((gpu) => gpu.index);
  const amd = gpus.amd.kfd ? [...gpus.amd.indices] : [];
  const [vendor, indices] =
    nvidia.length > 0
      ? (["nvidia", nvidia] as const)
      : amd.length > 0
        ? (["amd", amd] as const)
        : (["none", []] as const);
  return {
    shape: {
      name,
      cpu_architecture: arch,
      accelerator_vendor: vendor,
      gpu_indices: indices,
      cpu_cores: Math.max(1, availableParallelism()),
      memory_gib: Math.max(1, Math.floor(totalmem() / 1024 ** 3)),
      storage_modes: ["scratch", "project_storage"],
    },
  };
}
