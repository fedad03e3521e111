import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HostGpuInventory } from "@gpuaas/agent";
import { measureLocalHost, toAgentHostname, toCpuArchitecture } from "./measure-local-host.js";

const NO_GPUS: HostGpuInventory = {
  nvidia: { tool: "absent", gpus: [] },
  amd: { kfd: false, indices: [] },
  cdi: { specs: [], problems: [] },
};

describe("measureLocalHost", () => {
  it("describes a GPU-less host as a CPU allocation with both storage modes", () => {
    const { shape } = measureLocalHost("host-1", NO_GPUS);
    assert.equal(shape?.accelerator_vendor, "none");
    assert.deepEqual(shape?.gpu_indices, []);
    assert.deepEqual(shape?.storage_modes, ["scratch", "project_storage"]);
    assert.ok((shape?.cpu_cores ?? 0) >= 1 && (shape?.memory_gib ?? 0) >= 1);
    assert.equal(shape?.cpu_architecture, toCpuArchitecture(process.arch));
  });

  it("takes NVIDIA GPUs first, then AMD render nodes", () => {
    const nvidia = measureLocalHost("h", {
      ...NO_GPUS,
      nvidia: {
        tool: "present",
        gpus: [
          { index: 1, uuid: "GPU-b", name: "H200", memory_mib: 1, driver_version: null },
          { index: 0, uuid: "GPU-a", name: "H200", memory_mib: 1, driver_version: null },
        ],
      },
      amd: { kfd: true, indices: [0] },
    });
    assert.equal(nvidia.shape?.accelerator_vendor, "nvidia");
    assert.deepEqual(nvidia.shape?.gpu_indices, [1, 0]);
    const amd = measureLocalHost("h", { ...NO_GPUS, amd: { kfd: true, indices: [0, 1] } });
    assert.equal(amd.shape?.accelerator_vendor, "amd");
    assert.deepEqual(amd.shape?.gpu_indices, [0, 1]);
  });

  it("cleans a host name for the agent protocol", () => {
    assert.equal(toAgentHostname("my host!"), "my-host");
    assert.equal(toAgentHostname("__"), "localhost");
    assert.equal(toCpuArchitecture("ia32"), undefined);
  });
});
