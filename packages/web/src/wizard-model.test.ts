import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { validateProfile, type WorkloadProfile } from "@gpuaas/contract";
import YAML from "yaml";
import type { Allocation, Artifact } from "./api-types.js";
import { assessLaunchability } from "./assess-launchability.js";
import {
  buildLaunchRequest,
  createWizardState,
  findStepOfPointer,
  fitToAllocation,
  groupFieldErrors,
  listArtifactChoices,
  listLaunchWarnings,
  mapServerRefusal,
  selectStepIssues,
  toFieldPointer,
  toSubmission,
  validateWizard,
  type WizardContext,
  type WizardState,
} from "./wizard-model.js";

function loadProfile(slug: string): WorkloadProfile {
  const text = readFileSync(new URL(`../../../profiles/${slug}.yaml`, import.meta.url), "utf8");
  const validation = validateProfile(YAML.parse(text));
  assert.ok(validation.profile !== undefined, `${slug} validates`);
  return validation.profile;
}

const jupyter = loadProfile("jupyterlab");
const openclaw = loadProfile("openclaw");
const vllm = loadProfile("vllm-openai");

const DIGEST = `sha256:${"a".repeat(64)}`;

const cpuAllocation: Allocation = {
  id: "alloc-cpu",
  project_id: "p",
  node_id: "n",
  state: "active",
  accelerator: { vendor: "none" },
  cpu_architecture: "amd64",
  gpu_indices: [],
  cpu_cores: 8,
  memory_gib: 32,
  storage_modes: ["scratch"],
  created_at: "2026-01-01T00:00:00Z",
};

const h200Allocation: Allocation = {
  ...cpuAllocation,
  id: "alloc-h200",
  accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
  gpu_indices: [0, 1, 2, 3],
  storage_modes: ["scratch", "project_storage"],
};

function artifact(id: string, name: string, extra: Partial<Artifact> = {}): Artifact {
  return {
    id,
    app_version_id: "v",
    artifact_name: name,
    repository: `127.0.0.1:5055/${name}`,
    digest: DIGEST,
    media_type: "application/vnd.oci.image.manifest.v1+json",
    state: "published",
    platform: { os: "linux", architecture: "amd64" },
    accelerator: { vendor: "none" },
    verified_at: "2026-01-01T00:00:00Z",
    created_at: "2026-01-01T00:00:00Z",
    ...extra,
  };
}

const jupyterArtifacts = [
  artifact("art-cpu", "jupyterlab/runtime-cpu"),
  artifact("art-h200", "jupyterlab/runtime-nvidia-h200", {
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
  }),
];

function contextOf(profile: WorkloadProfile, artifacts: Artifact[]): WizardContext {
  return {
    profile,
    appVersion: "1.0.0",
    allocations: [cpuAllocation, h200Allocation],
    artifacts,
    serviceAccounts: [],
    accessCredentials: undefined,
  };
}

function withValues(state: WizardState, values: Record<string, unknown>): WizardState {
  return { ...state, values: { ...state.values, ...values } };
}

describe("wizard model", () => {
  it("starts from the schema defaults and maps fields to request pointers", () => {
    const state = createWizardState(jupyter);
    assert.equal(state.values.workspace_mount, "scratch");
    assert.equal(state.values.gpu_count, 1);
    assert.equal(toFieldPointer("gpu_count"), "/resource_overrides/gpu_count");
    assert.equal(toFieldPointer("python_packages"), "/config/python_packages");
    assert.equal(toFieldPointer("a/b"), "/config/a~1b");
  });

  it("puts resource parameters in resource_overrides and the rest in config", () => {
    const state = {
      ...createWizardState(jupyter),
      allocationId: "alloc-cpu",
      displayName: " Mine ",
    };
    const request = buildLaunchRequest(jupyter, "1.0.0", state);
    assert.deepEqual(request.resource_overrides, { gpu_count: 1, cpu_cores: 2, memory_gib: 4 });
    assert.equal(request.config?.workspace_mount, "scratch");
    assert.equal(request.config?.gpu_count, undefined);
    assert.equal(request.display_name, "Mine");
    assert.deepEqual(request.placement_intent, { target_allocation_id: "alloc-cpu" });
  });

  it("fits untouched defaults to the chosen allocation and leaves touched values alone", () => {
    const state = createWizardState(openclaw);
    const fitted = fitToAllocation(openclaw, state.values, state.touched, cpuAllocation);
    // openclaw prefers project storage, which this allocation does not offer.
    assert.equal(fitted.values.state_mount, "scratch");
    const jupyterState = createWizardState(jupyter);
    const cpu = fitToAllocation(jupyter, jupyterState.values, jupyterState.touched, cpuAllocation);
    assert.equal(cpu.values.gpu_count, 0);
    assert.deepEqual(cpu.notes, [{ name: "gpu_count", from: 1, to: 0 }]);
    const touched = fitToAllocation(
      jupyter,
      { ...jupyterState.values, gpu_count: 3 },
      new Set(["gpu_count"]),
      cpuAllocation,
    );
    assert.equal(touched.values.gpu_count, 3);
  });

  it("lists artifacts with the contract's selection: CPU image on a CPU allocation", () => {
    const choices = listArtifactChoices(jupyter, cpuAllocation, jupyterArtifacts, 0);
    assert.equal(choices.best?.id, "art-cpu");
    const h200 = choices.choices.find((choice) => choice.artifact.id === "art-h200");
    assert.equal(h200?.eligible, false);
    const gpu = listArtifactChoices(jupyter, h200Allocation, jupyterArtifacts, 2);
    assert.equal(gpu.best?.id, "art-h200");
    const unverified = listArtifactChoices(
      jupyter,
      cpuAllocation,
      [artifact("art-new", "jupyterlab/runtime-cpu", { verified_at: null })],
      0,
    );
    assert.equal(unverified.best, undefined);
    assert.match(unverified.choices[0]?.reason ?? "", /not verified/);
  });

  it("validates a step with resolveLaunch and shows each issue on the step of its field", () => {
    const context = contextOf(jupyter, jupyterArtifacts);
    const steps = jupyter.parameters.ui.launch_wizard.steps;
    const state = withValues(
      { ...createWizardState(jupyter), allocationId: "alloc-cpu" },
      { gpu_count: 0, python_packages: "--index-url x", cpu_cores: 1 },
    );
    const issues = validateWizard(context, state);
    const runtime = steps.findIndex((step) => step.id === "runtime");
    const resources = steps.findIndex((step) => step.id === "resources");
    const onRuntime = selectStepIssues(steps, runtime, issues);
    assert.deepEqual(
      onRuntime.map((issue) => issue.pointer),
      ["/config/python_packages"],
    );
    assert.match(onRuntime[0]?.message ?? "", /--index-url are not allowed/);
    const onResources = selectStepIssues(steps, resources, issues);
    assert.deepEqual(
      onResources.map((issue) => issue.code),
      ["launch.resources.below_minimum"],
    );
    assert.deepEqual(groupFieldErrors(["cpu_cores", "gpu_count"], issues), {
      cpu_cores: ["cpu_cores 1 is below this profile's minimum of 2"],
    });
  });

  it("checks the allocation's storage and capacity beside the fields", () => {
    const context = contextOf(jupyter, jupyterArtifacts);
    const state = withValues(
      { ...createWizardState(jupyter), allocationId: "alloc-cpu" },
      { gpu_count: 0, workspace_mount: "project_storage", memory_gib: 64 },
    );
    const pointers = validateWizard(context, state).map((issue) => issue.pointer);
    assert.ok(pointers.includes("/config/workspace_mount"));
    assert.ok(pointers.includes("/resource_overrides/memory_gib"));
  });

  it("requires an allocation and an eligible artifact, and a value for required fields", () => {
    const context = contextOf(jupyter, jupyterArtifacts);
    const none = validateWizard(context, createWizardState(jupyter));
    assert.ok(none.some((issue) => issue.code === "wizard.allocation_required"));
    const gpuOnCpu = validateWizard(context, {
      ...createWizardState(jupyter),
      allocationId: "alloc-cpu",
    });
    assert.ok(gpuOnCpu.some((issue) => issue.pointer === "/artifact_id"));
    const cleared = validateWizard(
      context,
      withValues(
        { ...createWizardState(jupyter), allocationId: "alloc-cpu" },
        { gpu_count: 0, host_port: undefined },
      ),
    );
    assert.deepEqual(
      cleared.filter((issue) => issue.severity === "error").map((issue) => issue.pointer),
      ["/config/host_port"],
    );
  });

  it("pins the artifact the review shows and passes a clean launch", () => {
    const context = contextOf(jupyter, jupyterArtifacts);
    const state = withValues(
      { ...createWizardState(jupyter), allocationId: "alloc-cpu" },
      { gpu_count: 0 },
    );
    assert.deepEqual(
      validateWizard(context, state).filter((issue) => issue.severity === "error"),
      [],
    );
    assert.equal(toSubmission(context, state).artifact_id, "art-cpu");
    const warnings = listLaunchWarnings(context, withValues(state, { python_packages: "numpy" }));
    assert.ok(warnings.some((warning) => /Python package/.test(warning)));
  });

  it("maps server refusals onto fields by their pointers or preflight checks", () => {
    assert.deepEqual(
      mapServerRefusal({
        code: "launch.invalid",
        message: "x",
        issues: [{ pointer: "/config/host_port", code: "launch.config.invalid", message: "bad" }],
      }).map((issue) => issue.pointer),
      ["/config/host_port"],
    );
    const exposure = mapServerRefusal({
      code: "launch.exposure_not_supported",
      message: "managed ingress is not configured",
      details: { check: "exposure_supported" },
    });
    assert.equal(exposure[0]?.pointer, "/config/exposure_mode");
    const storage = mapServerRefusal({
      code: "launch.storage_mode_not_allowed",
      message: "no",
      details: { check: "storage_available", mount: "state" },
    });
    assert.equal(storage[0]?.pointer, "/config/state_mount");
    const shape = mapServerRefusal({
      code: "launch.shape_exceeds_allocation",
      message: "too big",
      details: {
        check: "shape_fits",
        requested: { gpu_count: 0, cpu_cores: 16, memory_gib: 4 },
        allocation: { gpu_count: 0, cpu_cores: 8, memory_gib: 32 },
      },
    });
    assert.deepEqual(
      shape.map((issue) => issue.pointer),
      ["/resource_overrides/cpu_cores"],
    );
    const other = mapServerRefusal({ code: "launch.adapter_disabled", message: "off" });
    const steps = jupyter.parameters.ui.launch_wizard.steps;
    assert.equal(findStepOfPointer(steps, other[0]?.pointer ?? "x"), steps.length - 1);
  });

  it("builds every curated profile's wizard from its manifest alone", () => {
    for (const profile of [jupyter, openclaw, vllm, loadProfile("code-server")]) {
      const steps = profile.parameters.ui.launch_wizard.steps;
      for (const step of steps)
        for (const component of step.components)
          if (component.kind === "field")
            assert.ok(
              Object.hasOwn(profile.parameters.schema.properties, component.name ?? ""),
              `${profile.profile.slug}: ${component.name}`,
            );
      const request = buildLaunchRequest(profile, "1", createWizardState(profile));
      assert.equal(request.app_slug, profile.profile.slug);
    }
  });
});

describe("catalog launchability", () => {
  it("is launchable only where a verified published image fits an allocation", () => {
    assert.equal(assessLaunchability(jupyter, [cpuAllocation], jupyterArtifacts).launchable, true);
    const arm = assessLaunchability(
      loadProfile("code-server"),
      [cpuAllocation],
      [
        artifact("cs-arm", "code-server/runtime-arm64", {
          platform: { os: "linux", architecture: "arm64" },
        }),
      ],
    );
    assert.equal(arm.launchable, false);
    assert.match(arm.reasons[0] ?? "", /image is arm64, allocation is amd64/);
    const gpuOnly = assessLaunchability(vllm, [cpuAllocation], []);
    assert.match(gpuOnly.summary, /No published image/);
    const needsGpu = assessLaunchability(
      vllm,
      [cpuAllocation],
      [artifact("v", "vllm/openai-cuda", { accelerator: { vendor: "nvidia" } })],
    );
    assert.match(needsGpu.reasons[0] ?? "", /needs at least 1 GPU/);
    assert.match(
      assessLaunchability(jupyter, [], jupyterArtifacts).summary,
      /no active allocation/,
    );
  });
});
