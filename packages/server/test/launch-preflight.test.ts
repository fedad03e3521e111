// The nine launch checks, one at a time, on data built in memory: each fails on its own with its
// code, and a launch that passes them all gets the lowest free GPUs and the node agent.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { checkAuthoringGate, resolveLaunch, validateProfile } from "@gpuaas/contract";
import { parse } from "yaml";
import {
  LAUNCH_CHECKS,
  type LaunchCheck,
  type LaunchEnvironment,
  type LaunchFacts,
  runLaunchPreflight,
  toRegistryHost,
} from "../src/http/launch-preflight.js";
import type { Allocation, AppVersion, Artifact } from "../src/index.js";

const manifest = parse(
  await readFile(new URL("../../../profiles/jupyterlab.yaml", import.meta.url), "utf8"),
);
const validation = validateProfile(manifest);
assert.ok(validation.ok && validation.profile !== undefined);
const profile = validation.profile;
const stamp = "2026-01-01T00:00:00.000Z";

const version: AppVersion = {
  id: "ver-1",
  app_id: "app-1",
  app_slug: "jupyterlab",
  version: "2026.04",
  manifest,
  profile,
  gate_report: checkAuthoringGate(manifest),
  published: true,
  created_at: stamp,
};

const allocation: Allocation = {
  id: "alloc-1",
  project_id: "proj-1",
  node_id: "node-1",
  state: "active",
  accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
  cpu_architecture: "amd64",
  gpu_indices: [0, 1, 2, 3],
  cpu_cores: 32,
  memory_gib: 256,
  storage_modes: ["scratch", "project_storage"],
  created_at: stamp,
  updated_at: stamp,
  released_at: null,
};

function artifact(overrides: Partial<Artifact> = {}): Artifact {
  return {
    id: "art-gpu",
    app_version_id: version.id,
    artifact_name: "jupyterlab/runtime-nvidia-h200",
    repository: "127.0.0.1:5055/gpuaas/jupyterlab-h200",
    digest: `sha256:${"a".repeat(64)}`,
    media_type: "application/vnd.oci.image.manifest.v1+json",
    state: "promoted",
    platform: { os: "linux", architecture: "amd64" },
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
    verified_at: stamp,
    created_at: stamp,
    updated_at: stamp,
    ...overrides,
  };
}

const env: LaunchEnvironment = {
  registry_host: toRegistryHost("http://127.0.0.1:5055/"),
  oci_node_tasks_enabled: true,
  managed_ingress_host_map: {},
};

function request(overrides: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
  return {
    app_slug: "jupyterlab",
    app_version: "2026.04",
    placement_intent: { target_allocation_id: allocation.id },
    config: { workspace_mount: "scratch", exposure_mode: "private", ...config },
    resource_overrides: { gpu_count: 1, cpu_cores: 2, memory_gib: 4 },
    ...overrides,
  };
}

function facts(overrides: Partial<LaunchFacts> = {}, body = request()): LaunchFacts {
  const resolution = resolveLaunch(profile, body);
  assert.ok(resolution.ok && resolution.launch !== undefined, JSON.stringify(resolution.issues));
  return {
    project_id: "proj-1",
    version,
    launch: resolution.launch,
    allocation,
    entitled: true,
    artifacts: [artifact()],
    claimed_gpu_indices: [],
    ...overrides,
  };
}

function assertRefused(
  result: ReturnType<typeof runLaunchPreflight>,
  check: LaunchCheck,
  code: string,
): void {
  assert.equal(result.ok, false, "expected a refusal");
  if (result.ok) return;
  assert.equal(result.refusal.check, check);
  assert.equal(result.refusal.code, code);
  assert.ok(result.refusal.message.length > 20, "a sentence a user can act on");
}

describe("runLaunchPreflight", () => {
  it("accepts a launch that passes all nine checks and picks the lowest free GPUs", () => {
    const result = runLaunchPreflight(facts({ claimed_gpu_indices: [0, 2] }), env);
    assert.ok(result.ok);
    assert.deepEqual(result.plan.gpu_indices, [1]);
    assert.equal(result.plan.artifact.id, "art-gpu");
    assert.equal(result.plan.registry, "127.0.0.1:5055");
    assert.equal(result.plan.repository, "gpuaas/jupyterlab-h200");
    assert.equal(result.plan.engine, "node_agent");
    assert.equal(LAUNCH_CHECKS.length, 9);
  });

  it("1 refuses an allocation that is not active", () => {
    const result = runLaunchPreflight(
      facts({ allocation: { ...allocation, state: "releasing" } }),
      env,
    );
    assertRefused(result, "allocation_active", "launch.allocation_not_active");
  });

  it("2 refuses another project's allocation", () => {
    const result = runLaunchPreflight(facts({ project_id: "proj-2" }), env);
    assertRefused(result, "allocation_in_project", "launch.allocation_other_project");
  });

  it("3 refuses an app the project is not entitled to, and an unpublished version", () => {
    assertRefused(
      runLaunchPreflight(facts({ entitled: false }), env),
      "app_entitled_and_published",
      "launch.app_not_entitled",
    );
    assertRefused(
      runLaunchPreflight(facts({ version: { ...version, published: false } }), env),
      "app_entitled_and_published",
      "launch.app_not_published",
    );
  });

  it("4 refuses when no artifact is published or promoted, or the named one is retired", () => {
    assertRefused(
      runLaunchPreflight(facts({ artifacts: [artifact({ state: "verified" })] }), env),
      "artifact_launchable",
      "launch.artifact_not_promoted",
    );
    const retired = facts(
      { artifacts: [artifact({ state: "retired" })] },
      request({ artifact_id: "art-gpu" }),
    );
    assertRefused(
      runLaunchPreflight(retired, env),
      "artifact_launchable",
      "launch.artifact_not_promoted",
    );
    assertRefused(
      runLaunchPreflight(facts({}, request({ artifact_id: "art-other" })), env),
      "artifact_launchable",
      "launch.artifact_not_found",
    );
    const amd = { ...allocation, accelerator: { vendor: "amd" as const } };
    assertRefused(
      runLaunchPreflight(facts({ allocation: amd }), env),
      "artifact_launchable",
      "launch.artifact_no_match",
    );
  });

  it("4 prefers a named (or previously run) artifact when it fits", () => {
    const second = artifact({ id: "art-b", state: "published" });
    const picked = runLaunchPreflight(
      facts({ artifacts: [artifact(), second] }, request({ artifact_id: "art-b" })),
      env,
    );
    assert.ok(picked.ok);
    assert.equal(picked.plan.artifact.id, "art-b");
    const preferred = runLaunchPreflight(
      facts({ artifacts: [artifact(), second], preferred_artifact_id: "art-b" }),
      env,
    );
    assert.ok(preferred.ok);
    assert.equal(preferred.plan.artifact.id, "art-b");
  });

  it("5 refuses an artifact outside the platform registry or never verified", () => {
    assertRefused(
      runLaunchPreflight(
        facts({ artifacts: [artifact({ repository: "docker.io/jupyter/base" })] }),
        env,
      ),
      "digest_trusted",
      "launch.digest_untrusted",
    );
    assertRefused(
      runLaunchPreflight(facts({ artifacts: [artifact({ verified_at: null })] }), env),
      "digest_trusted",
      "launch.digest_untrusted",
    );
  });

  it("6 refuses a storage mode the allocation does not offer", () => {
    const body = request({}, { workspace_mount: "project_storage" });
    const scratchOnly = { ...allocation, storage_modes: ["scratch" as const] };
    const result = runLaunchPreflight(facts({ allocation: scratchOnly }, body), env);
    assertRefused(result, "storage_available", "launch.storage_mode_not_allowed");
    assert.ok(!result.ok && /choose scratch/.test(result.refusal.message));
  });

  it("7 refuses managed ingress unless the environment maps the endpoint", () => {
    const body = request({}, { exposure_mode: "managed_ingress" });
    assertRefused(
      runLaunchPreflight(facts({}, body), env),
      "exposure_supported",
      "launch.exposure_not_supported",
    );
    const mapped = { ...env, managed_ingress_host_map: { "jupyterlab.web": "apps.example.test" } };
    assert.ok(runLaunchPreflight(facts({}, body), mapped).ok);
  });

  it("8 refuses a shape larger than the allocation, and GPUs others claim", () => {
    const big = request({ resource_overrides: { gpu_count: 1, cpu_cores: 64, memory_gib: 4 } });
    assertRefused(
      runLaunchPreflight(facts({}, big), env),
      "shape_fits",
      "launch.shape_exceeds_allocation",
    );
    const two = request({ resource_overrides: { gpu_count: 2, cpu_cores: 2, memory_gib: 4 } });
    assertRefused(
      runLaunchPreflight(facts({ claimed_gpu_indices: [0, 1, 3] }, two), env),
      "shape_fits",
      "launch.gpus_claimed",
    );
    const cpuOnly = { ...allocation, accelerator: { vendor: "none" as const }, gpu_indices: [] };
    assertRefused(
      runLaunchPreflight(facts({ allocation: cpuOnly }), env),
      "shape_fits",
      "launch.shape_exceeds_allocation",
    );
  });

  it("8 keeps the GPUs an instance already holds", () => {
    const result = runLaunchPreflight(
      facts({ claimed_gpu_indices: [0], held_gpu_indices: [3] }),
      env,
    );
    assert.ok(result.ok);
    assert.deepEqual(result.plan.gpu_indices, [3]);
  });

  it("9 is fail-closed: refused unless the operator enables OCI node tasks", () => {
    assertRefused(
      runLaunchPreflight(facts(), { ...env, oci_node_tasks_enabled: false }),
      "adapter_enabled",
      "launch.adapter_disabled",
    );
  });

  it("runs the checks in the seed's order: the first failure wins", () => {
    const everythingWrong = facts({
      allocation: { ...allocation, state: "released", project_id: "proj-2" },
      entitled: false,
      artifacts: [],
    });
    assertRefused(
      runLaunchPreflight(everythingWrong, { ...env, oci_node_tasks_enabled: false }),
      "allocation_active",
      "launch.allocation_not_active",
    );
  });
});
