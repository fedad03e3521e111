import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ISSUE_CODES } from "./issues.js";
import {
  type AllocationShape,
  type ArtifactRecord,
  type ArtifactSelection,
  selectArtifact,
} from "./select-artifact.js";
import {
  ALLOCATIONS,
  artifactRecord,
  baselineProfile,
  mutate,
  profileOf,
} from "./test-fixtures.js";
import type { ArtifactState } from "./types.js";

const CPU = "jupyterlab/runtime-cpu";
const H200 = "jupyterlab/runtime-nvidia-h200";
const ROCM = "jupyterlab/runtime-amd-rocm";
const NVIDIA = "jupyterlab/runtime-nvidia";

const PROFILE = baselineProfile();
/** The baseline plus a generic NVIDIA variant for any NVIDIA GPU on either architecture. */
const WITH_GENERIC_NVIDIA = profileOf(
  mutate("/artifacts/nvidia_generic_image", {
    source: "platform_registry",
    artifact_name: NVIDIA,
    digest_required: true,
    media_type: "application/vnd.oci.image.index.v1+json",
    accelerator: { vendor: "nvidia" },
    cpu_architectures: ["amd64", "arm64"],
  }),
);

const RECORDS: readonly ArtifactRecord[] = [
  artifactRecord("art-cpu", CPU),
  artifactRecord("art-h200", H200),
  artifactRecord("art-rocm", ROCM),
  artifactRecord("art-nvidia", NVIDIA),
];

function chosen(selection: ArtifactSelection): [string | undefined, string | undefined] {
  return [selection.artifact?.id, selection.variant];
}

describe("selectArtifact: picks the variant for the allocation", () => {
  it("takes the CPU variant for gpu_count 0 on a CPU allocation", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuAmd64, RECORDS, { gpu_count: 0 });
    assert.equal(selection.ok, true);
    assert.deepEqual(selection.issues, []);
    assert.deepEqual(chosen(selection), ["art-cpu", "primary_image"]);
  });

  it("takes the CPU variant for gpu_count 0 even on a GPU allocation", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, RECORDS, { gpu_count: 0 });
    assert.deepEqual(chosen(selection), ["art-cpu", "primary_image"]);
  });

  it("takes the H200 variant over a generic NVIDIA one on an H200", () => {
    const selection = selectArtifact(WITH_GENERIC_NVIDIA, ALLOCATIONS.h200, RECORDS, {
      gpu_count: 1,
    });
    assert.deepEqual(chosen(selection), ["art-h200", "nvidia_h200_image"]);
    assert.deepEqual(
      selection.candidates.map((c) => [c.artifact_id, c.eligible]),
      [
        ["art-cpu", false],
        ["art-h200", true],
        ["art-rocm", false],
        ["art-nvidia", true],
      ],
    );
  });

  it("takes the generic NVIDIA variant on another NVIDIA SKU", () => {
    const selection = selectArtifact(WITH_GENERIC_NVIDIA, ALLOCATIONS.h100, RECORDS, {
      gpu_count: 2,
    });
    assert.deepEqual(chosen(selection), ["art-nvidia", "nvidia_generic_image"]);
    const h200 = selection.candidates.find((c) => c.artifact_id === "art-h200");
    assert.match(h200?.reason ?? "", /h200.*h100/);
  });

  it("takes ROCm on an AMD allocation", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.mi300x, RECORDS, { gpu_count: 8 });
    assert.deepEqual(chosen(selection), ["art-rocm", "amd_rocm_image"]);
  });

  it("takes the multi-architecture CPU variant on an arm64 allocation", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuArm64, RECORDS, { gpu_count: 0 });
    assert.deepEqual(chosen(selection), ["art-cpu", "primary_image"]);
  });

  it("takes an arm64-capable GPU variant on an arm64 GPU allocation", () => {
    const selection = selectArtifact(WITH_GENERIC_NVIDIA, ALLOCATIONS.gh200, RECORDS, {
      gpu_count: 1,
    });
    assert.deepEqual(chosen(selection), ["art-nvidia", "nvidia_generic_image"]);
  });

  it("refuses an image whose platform is another architecture", () => {
    const records = [
      artifactRecord("art-cpu-amd64", CPU, { platform: { os: "linux", architecture: "amd64" } }),
      artifactRecord("art-cpu-arm64", CPU, { platform: { os: "linux", architecture: "arm64" } }),
    ];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuArm64, records, { gpu_count: 0 });
    assert.deepEqual(chosen(selection), ["art-cpu-arm64", "primary_image"]);
    assert.match(selection.candidates[0]?.reason ?? "", /image is amd64, allocation is arm64/);
  });
});

describe("selectArtifact: only launchable records", () => {
  for (const state of ["retired", "pending", "verified"] as const satisfies ArtifactState[]) {
    it(`never chooses a ${state} record`, () => {
      const records = [
        artifactRecord("art-h200", H200, { state }),
        artifactRecord("art-nvidia", NVIDIA),
      ];
      const selection = selectArtifact(WITH_GENERIC_NVIDIA, ALLOCATIONS.h200, records, {
        gpu_count: 1,
      });
      assert.deepEqual(chosen(selection), ["art-nvidia", "nvidia_generic_image"]);
      assert.match(selection.candidates[0]?.reason ?? "", new RegExp(`state is ${state}`));
    });
  }

  it("says there is nothing launchable when no record is published or promoted", () => {
    const records = [
      artifactRecord("art-cpu", CPU, { state: "retired" }),
      artifactRecord("art-h200", H200, { state: "verified" }),
    ];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, records, { gpu_count: 1 });
    assert.equal(selection.ok, false);
    assert.deepEqual(
      selection.issues.map((issue) => [issue.pointer, issue.code]),
      [["/artifact_id", "artifact.none_eligible"]],
    );
  });

  it("says there is nothing launchable when there are no records", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuAmd64, [], { gpu_count: 0 });
    assert.deepEqual(
      selection.issues.map((issue) => issue.code),
      ["artifact.none_eligible"],
    );
  });

  it("refuses a record whose digest is not sha256", () => {
    const records = [artifactRecord("art-cpu", CPU, { digest: "sha256:latest" })];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuAmd64, records, { gpu_count: 0 });
    assert.equal(selection.ok, false);
    assert.match(selection.candidates[0]?.reason ?? "", /digest/);
  });

  it("ignores records of artifacts the profile does not declare", () => {
    const records = [artifactRecord("art-other", "vllm/runtime-cuda")];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, records, { gpu_count: 1 });
    assert.equal(selection.ok, false);
    assert.deepEqual(selection.candidates, [
      {
        artifact_id: "art-other",
        variant: undefined,
        eligible: false,
        reason: '"vllm/runtime-cuda" is not an artifact of this profile',
      },
    ]);
  });

  it("trusts the record's accelerator over the variant's, and refuses a contradiction", () => {
    const records = [artifactRecord("art-h200", H200, { accelerator: { vendor: "amd" } })];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, records, { gpu_count: 1 });
    assert.equal(selection.ok, false);
    assert.match(selection.candidates[0]?.reason ?? "", /record says amd/);
  });
});

describe("selectArtifact: ranking", () => {
  it("prefers promoted over published at equal specificity", () => {
    const records = [
      artifactRecord("art-h200-a", H200, { state: "published" }),
      artifactRecord("art-h200-b", H200, { state: "promoted" }),
    ];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, records, { gpu_count: 1 });
    assert.deepEqual(chosen(selection), ["art-h200-b", "nvidia_h200_image"]);
  });

  it("prefers a more specific variant over a promoted generic one", () => {
    const records = [
      artifactRecord("art-nvidia", NVIDIA, { state: "promoted" }),
      artifactRecord("art-h200", H200, { state: "published" }),
    ];
    const selection = selectArtifact(WITH_GENERIC_NVIDIA, ALLOCATIONS.h200, records, {
      gpu_count: 1,
    });
    assert.deepEqual(chosen(selection), ["art-h200", "nvidia_h200_image"]);
  });

  it("ranks a SKU match above a family match above a vendor match", () => {
    const variant = (name: string, accelerator: Record<string, unknown>) => ({
      source: "platform_registry",
      artifact_name: name,
      digest_required: true,
      media_type: "application/vnd.oci.image.manifest.v1+json",
      accelerator,
    });
    const profile = profileOf(
      mutate("/artifacts", {
        cpu: variant("lab/cpu", { vendor: "none" }),
        nvidia: variant("lab/nvidia", { vendor: "nvidia" }),
        hopper: variant("lab/hopper", { vendor: "nvidia", family: "hopper" }),
        h200: variant("lab/h200", { vendor: "nvidia", skus: ["h200"] }),
      }),
    );
    const records = ["lab/nvidia", "lab/hopper", "lab/h200"].map((name) =>
      artifactRecord(`art-${name.slice(4)}`, name, { state: "promoted" }),
    );
    const pick = (allocation: AllocationShape, from: readonly ArtifactRecord[]) =>
      selectArtifact(profile, allocation, from, { gpu_count: 1 }).variant;
    assert.equal(pick(ALLOCATIONS.h200, records), "h200");
    assert.equal(pick(ALLOCATIONS.h100, records), "hopper");
    assert.equal(pick(ALLOCATIONS.h200, records.slice(0, 1)), "nvidia");
    assert.equal(
      pick({ ...ALLOCATIONS.h100, accelerator: { vendor: "nvidia" } }, records),
      "nvidia",
    );
  });

  it("breaks ties by the lowest id, whatever the order of the records", () => {
    const records = [
      artifactRecord("art-3", H200),
      artifactRecord("art-1", H200),
      artifactRecord("art-2", H200),
      artifactRecord("art-nvidia", NVIDIA, { state: "promoted" }),
    ];
    const orders = [
      records,
      [...records].reverse(),
      [records[2], records[0], records[3], records[1]],
    ];
    for (const order of orders) {
      const selection = selectArtifact(
        WITH_GENERIC_NVIDIA,
        ALLOCATIONS.h200,
        order as ArtifactRecord[],
        { gpu_count: 1 },
      );
      assert.deepEqual(chosen(selection), ["art-1", "nvidia_h200_image"]);
    }
  });
});

describe("selectArtifact: explains why nothing fits", () => {
  it("refuses GPUs on a CPU-only allocation", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.cpuAmd64, RECORDS, { gpu_count: 1 });
    assert.equal(selection.ok, false);
    assert.equal(selection.artifact, undefined);
    assert.deepEqual(
      selection.issues.map((issue) => [issue.pointer, issue.code]),
      [["/resource_overrides/gpu_count", "artifact.gpu_requested_on_cpu_allocation"]],
    );
  });

  it("lists a reason for every candidate when nothing matches", () => {
    const selection = selectArtifact(PROFILE, ALLOCATIONS.gh200, RECORDS, { gpu_count: 1 });
    assert.equal(selection.ok, false);
    assert.deepEqual(
      selection.issues.map((issue) => [issue.pointer, issue.code]),
      [["/placement_intent/target_allocation_id", "artifact.no_match"]],
    );
    assert.match(selection.issues[0]?.message ?? "", /alloc-gh200 \(arm64, nvidia\/hopper\/gh200/);
    assert.deepEqual(
      selection.candidates.map((c) => [c.artifact_id, c.variant, c.eligible, c.reason]),
      [
        ["art-cpu", "primary_image", false, "CPU-only image, but GPUs were requested"],
        ["art-h200", "nvidia_h200_image", false, "variant is built for amd64, allocation is arm64"],
        ["art-rocm", "amd_rocm_image", false, "variant is built for amd64, allocation is arm64"],
        [
          "art-nvidia",
          undefined,
          false,
          '"jupyterlab/runtime-nvidia" is not an artifact of this profile',
        ],
      ],
    );
  });

  it("says a GPU image does not serve gpu_count 0", () => {
    const records = [artifactRecord("art-h200", H200)];
    const selection = selectArtifact(PROFILE, ALLOCATIONS.h200, records, { gpu_count: 0 });
    assert.equal(selection.ok, false);
    assert.equal(selection.candidates[0]?.reason, "gpu_count is 0, and this is a GPU image");
  });

  it("covers every artifact.* code", () => {
    const tested = [
      "artifact.none_eligible",
      "artifact.no_match",
      "artifact.gpu_requested_on_cpu_allocation",
    ];
    assert.deepEqual(
      Object.keys(ISSUE_CODES).filter((code) => code.startsWith("artifact.")),
      tested,
    );
  });
});
