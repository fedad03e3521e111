import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RuntimeProbe } from "./container-runtime.js";
import type { HostGpuInventory } from "./gpu-inventory.js";
import { checkGpuRequest, checkPlatform, checkRuntime } from "./run-launch-preflight.js";

const probe = (extra: Partial<RuntimeProbe> = {}): RuntimeProbe => ({
  name: "docker",
  binary: "docker",
  present: true,
  answering: true,
  ...extra,
});

const twoGpus: HostGpuInventory = {
  nvidia: {
    tool: "present",
    gpus: [0, 1].map((index) => ({
      index,
      uuid: `GPU-${index}`,
      name: "NVIDIA H100",
      memory_mib: 81559,
      driver_version: "550.54.15",
    })),
  },
  amd: { kfd: false, indices: [] },
  cdi: {
    specs: [{ path: "/etc/cdi/nvidia.yaml", kind: "nvidia.com/gpu", devices: ["0", "all"] }],
    problems: [],
  },
};
const gpuLess: HostGpuInventory = {
  nvidia: { tool: "absent", gpus: [] },
  amd: { kfd: false, indices: [] },
  cdi: { specs: [], problems: [] },
};
const inventory = (value: HostGpuInventory) => async () => value;
const nvidia = (indices: number[]) => ({ vendor: "nvidia", indices });

describe("checkGpuRequest", () => {
  it("asks nothing of a CPU-only launch", async () => {
    assert.deepEqual(
      await checkGpuRequest(
        { vendor: "none", indices: [] },
        "podman",
        probe(),
        [],
        inventory(gpuLess),
      ),
      [],
    );
  });

  it("refuses GPUs outside the allocation's mask and GPUs the host does not have", async () => {
    const issues = await checkGpuRequest(
      nvidia([1, 5]),
      "docker",
      probe({ nvidia_runtime: true }),
      [0, 1],
      inventory(twoGpus),
    );
    assert.deepEqual(
      issues.map((issue) => issue.code),
      ["preflight.gpu_outside_mask", "preflight.gpu_unavailable"],
    );
    assert.match(issues[0]?.message ?? "", /GPU 5 is outside/);
    assert.match(issues[1]?.message ?? "", /GPU 5 does not exist/);
  });

  it("refuses NVIDIA on a GPU-less host with the fix in the sentence", async () => {
    const [issue] = await checkGpuRequest(
      nvidia([0]),
      "podman",
      probe({ name: "podman" }),
      [0],
      inventory(gpuLess),
    );
    assert.equal(issue?.code, "preflight.gpu_unavailable");
    assert.match(issue?.message ?? "", /nvidia-smi is not installed/);
  });

  it("docker: needs the nvidia runtime and a real dockerd", async () => {
    const without = await checkGpuRequest(
      nvidia([0]),
      "docker",
      probe({ nvidia_runtime: false }),
      [0],
      inventory(twoGpus),
    );
    assert.match(without[0]?.message ?? "", /nvidia-ctk runtime configure --runtime=docker/);
    const compat = await checkGpuRequest(
      nvidia([0]),
      "docker",
      probe({ nvidia_runtime: true, podman_backend: true }),
      [0],
      inventory(twoGpus),
    );
    assert.match(compat[0]?.message ?? "", /podman's compat API/);
    assert.deepEqual(
      await checkGpuRequest(
        nvidia([0, 1]),
        "docker",
        probe({ nvidia_runtime: true }),
        [0, 1],
        inventory(twoGpus),
      ),
      [],
    );
  });

  it("podman: needs a CDI spec naming each GPU", async () => {
    const issues = await checkGpuRequest(
      nvidia([0, 1]),
      "podman",
      probe({ name: "podman" }),
      [0, 1],
      inventory(twoGpus),
    );
    assert.equal(issues.length, 1);
    assert.match(issues[0]?.message ?? "", /nvidia\.com\/gpu=1.*nvidia-ctk cdi generate/);
    assert.deepEqual(
      await checkGpuRequest(
        nvidia([0]),
        "podman",
        probe({ name: "podman" }),
        [0],
        inventory(twoGpus),
      ),
      [],
    );
  });

  it("AMD: needs /dev/kfd and the GPU's render node", async () => {
    const amd = { ...gpuLess, amd: { kfd: true, indices: [0] } };
    assert.deepEqual(
      await checkGpuRequest(
        { vendor: "amd", indices: [0] },
        "podman",
        probe(),
        [0, 1],
        inventory(amd),
      ),
      [],
    );
    const missing = await checkGpuRequest(
      { vendor: "amd", indices: [1] },
      "podman",
      probe(),
      [0, 1],
      inventory(amd),
    );
    assert.match(missing[0]?.message ?? "", /renderD129/);
    const noKfd = await checkGpuRequest(
      { vendor: "amd", indices: [0] },
      "docker",
      probe(),
      [0],
      inventory(gpuLess),
    );
    assert.match(noKfd[0]?.message ?? "", /\/dev\/kfd does not exist/);
    const intel = await checkGpuRequest(
      { vendor: "intel", indices: [0] },
      "docker",
      probe(),
      [0],
      inventory(gpuLess),
    );
    assert.match(intel[0]?.message ?? "", /cannot attach intel/);
  });
});

describe("checkRuntime and checkPlatform", () => {
  it("names the missing or silent runtime", () => {
    assert.equal(
      checkRuntime(probe({ present: false, answering: false }))?.code,
      "preflight.runtime_missing",
    );
    assert.equal(
      checkRuntime(probe({ answering: false, problem: "Cannot connect to the Docker daemon" }))
        ?.code,
      "preflight.runtime_not_answering",
    );
    assert.equal(checkRuntime(probe()), undefined);
  });

  it("refuses an image for another platform", () => {
    assert.equal(checkPlatform({ architecture: "amd64", os: "linux" }, "amd64"), undefined);
    assert.match(
      checkPlatform({ architecture: "arm64", os: "linux" }, "amd64")?.message ?? "",
      /linux\/arm64/,
    );
    assert.equal(
      checkPlatform({ architecture: "amd64", os: "windows" }, "amd64")?.code,
      "preflight.platform_mismatch",
    );
  });
});
