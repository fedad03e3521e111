import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toHeartbeatInventory } from "./agent-inventory.js";
import type { OciRuntimeStatusResult } from "./run-oci-runtime-status.js";

describe("toHeartbeatInventory", () => {
  it("reports the runtime, GPUs, CDI devices and disk in the protocol's shape", () => {
    const status: OciRuntimeStatusResult = {
      kind: "workload.oci_runtime_status",
      ok: true,
      runtime: {
        name: "podman",
        binary: "podman",
        present: true,
        answering: true,
        client_version: "4.3.1",
        server_version: "4.3.1",
        rootless: false,
        oci_runtime: "runc",
      },
      other_runtimes: [{ name: "docker", binary: "docker", present: false, answering: false }],
      gpus: {
        nvidia: {
          tool: "present",
          gpus: [
            {
              index: 0,
              uuid: "GPU-1",
              name: "NVIDIA H200",
              memory_mib: 141312,
              driver_version: "550.54",
            },
          ],
        },
        amd: { kfd: false, indices: [] },
        cdi: {
          specs: [{ path: "/etc/cdi/nvidia.yaml", kind: "nvidia.com/gpu", devices: ["0", "all"] }],
          problems: [],
        },
      },
      gpu_paths: {
        nvidia: { ready: true, reason: "CDI spec for nvidia.com/gpu present" },
        amd: { ready: false, reason: "/dev/kfd absent" },
      },
      disk: [
        { path: "/w", free_bytes: 5 },
        { path: "/var/lib/containers/storage", free_bytes: null },
      ],
      managed_containers: 2,
      host_architecture: "amd64",
    };
    const inventory = toHeartbeatInventory(status, "9.9.9");
    assert.equal(inventory.agent_version, "9.9.9");
    assert.deepEqual(inventory.runtime, {
      name: "podman",
      version: "4.3.1",
      rootless: false,
      answering: true,
      oci_runtime: "runc",
    });
    assert.deepEqual(inventory.gpus, [
      {
        index: 0,
        uuid: "GPU-1",
        name: "NVIDIA H200",
        vendor: "nvidia",
        memory_mib: 141312,
        driver_version: "550.54",
      },
    ]);
    assert.deepEqual(inventory.cdi, {
      enabled: true,
      devices: ["nvidia.com/gpu=0", "nvidia.com/gpu=all"],
    });
    assert.deepEqual(inventory.disk, { path: "/w", free_bytes: 5 });
    assert.equal(inventory.managed_containers, 2);
  });
});
