import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  findAmdDevices,
  hasCdiDevice,
  loadCdiInventory,
  parseCdiSpec,
  parseNvidiaSmi,
  probeHostGpus,
} from "./gpu-inventory.js";

const fixtures = new URL("../test/fixtures/gpu/", import.meta.url);
const fixture = (name: string) => readFile(new URL(name, fixtures), "utf8");

describe("parseNvidiaSmi", () => {
  it("reads the documented CSV with units", async () => {
    const parsed = parseNvidiaSmi(await fixture("nvidia-smi-h100x2.csv"));
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.gpus, [
      {
        index: 0,
        uuid: "GPU-22b2c6ac-2d49-4863-197c-9c469071178a",
        name: "NVIDIA H100 80GB HBM3",
        memory_mib: 81559,
        driver_version: "550.54.15",
      },
      {
        index: 1,
        uuid: "GPU-5f1e0d4c-8c1a-4b7e-9a3f-2e6d1c0b9a87",
        name: "NVIDIA H100 80GB HBM3",
        memory_mib: 81559,
        driver_version: "550.54.15",
      },
    ]);
  });

  it("reads nounits, names with commas and [N/A], and reports unreadable lines", async () => {
    const parsed = parseNvidiaSmi(await fixture("nvidia-smi-mixed-nounits.csv"));
    assert.deepEqual(
      parsed.gpus.map((gpu) => [gpu.index, gpu.name, gpu.memory_mib, gpu.driver_version]),
      [
        [0, "NVIDIA GeForce RTX 4090", 24564, "560.35.03"],
        [1, "NVIDIA A100-SXM4-40GB", 40960, "560.35.03"],
        [2, "Quadro RTX 8000, Rev. A", null, null],
      ],
    );
    assert.deepEqual(parsed.problems, [{ line: 5, text: "garbage line without fields" }]);
  });

  it("never throws and never invents a GPU from arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const parsed = parseNvidiaSmi(text);
        for (const gpu of parsed.gpus) assert.ok(Number.isInteger(gpu.index) && gpu.index >= 0);
      }),
    );
  });
});

describe("findAmdDevices", () => {
  it("finds /dev/kfd and maps render nodes to GPU indices", async () => {
    const devices = await findAmdDevices(new URL("dev-amd", fixtures).pathname);
    assert.deepEqual(devices, { kfd: true, indices: [0, 1] });
  });

  it("reports nothing on a host without AMD devices", async () => {
    const devices = await findAmdDevices(new URL("cdi", fixtures).pathname);
    assert.deepEqual(devices, { kfd: false, indices: [] });
  });
});

describe("CDI specs", () => {
  it("reads kind and device names from nvidia-ctk's YAML and from JSON", async () => {
    assert.deepEqual(parseCdiSpec(await fixture("cdi/nvidia.yaml")), {
      kind: "nvidia.com/gpu",
      devices: ["0", "1", "GPU-22b2c6ac-2d49-4863-197c-9c469071178a", "all"],
    });
    assert.deepEqual(parseCdiSpec(await fixture("cdi/amd.json")), {
      kind: "amd.com/gpu",
      devices: ["0", "all"],
    });
    assert.equal(parseCdiSpec("just: text\n"), undefined);
  });

  it("loads every spec of the CDI directories and answers device lookups", async () => {
    const inventory = await loadCdiInventory([
      new URL("cdi", fixtures).pathname,
      "/nonexistent/cdi",
    ]);
    assert.deepEqual(
      inventory.specs.map((spec) => spec.kind),
      ["amd.com/gpu", "nvidia.com/gpu"],
    );
    assert.equal(hasCdiDevice(inventory, "nvidia.com/gpu", "1"), true);
    assert.equal(hasCdiDevice(inventory, "nvidia.com/gpu", "2"), false);
    assert.equal(hasCdiDevice(inventory, "amd.com/gpu", "1"), false);
  });
});

describe("probeHostGpus", () => {
  it("runs nvidia-smi with the documented query when it is installed", async () => {
    const calls: string[][] = [];
    const inventory = await probeHostGpus({
      nvidiaSmi: "/bin/sh",
      devRoot: "/nonexistent",
      cdiDirs: [],
      run: async (request) => {
        calls.push([...request.args]);
        return {
          exitCode: 0,
          signal: null,
          stdout: await fixture("nvidia-smi-h100x2.csv"),
          stderr: "",
          timedOut: false,
          truncated: false,
          durationMs: 1,
        };
      },
    });
    assert.deepEqual(calls, [
      ["--query-gpu=index,uuid,name,memory.total,driver_version", "--format=csv,noheader"],
    ]);
    assert.equal(inventory.nvidia.tool, "present");
    assert.equal(inventory.nvidia.gpus.length, 2);
  });

  it("reports nvidia-smi as absent without running anything", async () => {
    const inventory = await probeHostGpus({
      nvidiaSmi: "/nonexistent/nvidia-smi",
      devRoot: "/nonexistent",
      cdiDirs: [],
    });
    assert.deepEqual(inventory.nvidia, { tool: "absent", gpus: [] });
  });
});
