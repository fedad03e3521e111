import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  type ResolvedLaunch,
  resolveLaunch,
  validateProfile,
  type WorkloadProfile,
} from "@gpuaas/contract";
import YAML from "yaml";
import type { AdapterInput } from "./adapter-input.js";
import {
  renderOciControl,
  renderOciLaunch,
  renderOciRemove,
  toPendingState,
} from "./render-node-task.js";
import { selectEngine } from "./select-engine.js";

const DIGEST = `sha256:${"ab".repeat(32)}`;

function loadProfile(slug: string): WorkloadProfile {
  const text = readFileSync(new URL(`../../../profiles/${slug}.yaml`, import.meta.url), "utf8");
  const { profile } = validateProfile(YAML.parse(text));
  assert.ok(profile, `${slug} validates`);
  return profile;
}

function resolve(
  profile: WorkloadProfile,
  config: Record<string, unknown>,
  resources: Record<string, number>,
): ResolvedLaunch {
  const result = resolveLaunch(profile, {
    app_slug: profile.profile.slug,
    app_version: "2026.11",
    placement_intent: { target_allocation_id: "alloc-1" },
    config,
    resource_overrides: resources,
  });
  assert.ok(result.launch, JSON.stringify(result.issues));
  return result.launch;
}

function inputFor(
  profile: WorkloadProfile,
  launch: ResolvedLaunch,
  gpuIndices: number[] = [],
): AdapterInput {
  return {
    profile,
    launch,
    identity: {
      project_id: "proj-1",
      instance_id: "inst-1",
      generation: 3,
      correlation_id: "corr-1",
    },
    placement: {
      allocation_id: "alloc-1",
      node_id: "node-1",
      cpu_architecture: "amd64",
      accelerator_vendor: "nvidia",
      gpu_indices: gpuIndices,
      gpu_mask: [3, 0, 1, 2],
    },
    artifact: {
      artifact_id: "art-1",
      registry: "127.0.0.1:5055",
      repository: "jupyterlab/runtime-cpu",
      digest: DIGEST,
      media_type: "application/vnd.oci.image.manifest.v1+json",
    },
  };
}

describe("renderOciLaunch", () => {
  const jupyter = loadProfile("jupyterlab");

  it("pins the image by digest and names the container after the instance", () => {
    const spec = renderOciLaunch(inputFor(jupyter, resolve(jupyter, {}, { gpu_count: 0 })));
    assert.equal(spec.container.image, `127.0.0.1:5055/jupyterlab/runtime-cpu@${DIGEST}`);
    assert.equal(spec.container.name, "gpuaas-inst-1");
    assert.equal(spec.container.labels["dev.gpuaas.instance"], "inst-1");
    assert.equal(spec.container.labels["dev.gpuaas.generation"], "3");
    assert.equal(spec.container.labels["dev.gpuaas.correlation-id"], "corr-1");
  });

  it("publishes every endpoint on loopback only, with the chosen host port", () => {
    const spec = renderOciLaunch(
      inputFor(jupyter, resolve(jupyter, { host_port: 18888 }, { gpu_count: 0 })),
    );
    assert.deepEqual(spec.container.ports, [
      {
        endpoint: "web",
        container_port: 8888,
        host_ip: "127.0.0.1",
        host_port: 18888,
        protocol: "tcp",
      },
    ]);
  });

  it("maps resources and GPUs from the resolved values and the claimed indices", () => {
    const spec = renderOciLaunch(
      inputFor(
        jupyter,
        resolve(jupyter, {}, { gpu_count: 2, cpu_cores: 4, memory_gib: 8 }),
        [2, 3],
      ),
    );
    assert.deepEqual(spec.container.resources, { cpus: 4, memory_mib: 8192, pids_limit: 4096 });
    assert.deepEqual(spec.container.gpus, { vendor: "nvidia", indices: [2, 3] });
    assert.deepEqual(spec.gpu_mask, [0, 1, 2, 3], "the allocation's whole mask, for the agent");
    const cpuOnly = renderOciLaunch(
      inputFor(jupyter, resolve(jupyter, {}, { gpu_count: 0 }), [2, 3]),
    );
    assert.deepEqual(cpuOnly.container.gpus, { vendor: "none", indices: [] });
  });

  it("hardens the container and mounts only workload-scoped storage", () => {
    const spec = renderOciLaunch(
      inputFor(jupyter, resolve(jupyter, { workspace_mount: "project_storage" }, { gpu_count: 0 })),
    );
    assert.deepEqual(spec.container.security, {
      cap_drop: ["ALL"],
      no_new_privileges: true,
      privileged: false,
      host_mounts: [],
    });
    assert.deepEqual(spec.container.mounts, [
      { name: "workspace", target: "/workspace", mode: "project_storage", read_only: false },
    ]);
  });

  it("carries env, readiness and validated Python packages from the manifest and the launch", () => {
    const spec = renderOciLaunch(
      inputFor(
        jupyter,
        resolve(jupyter, { python_packages: "numpy==2.4.4 pandas>=2.2" }, { gpu_count: 0 }),
      ),
    );
    assert.equal(spec.container.env.HOME, "/workspace");
    assert.deepEqual(spec.python_packages, ["numpy==2.4.4", "pandas>=2.2"]);
    assert.deepEqual(spec.readiness, [
      {
        name: "web_http_ready",
        type: "http",
        endpoint: "web",
        path: "/api",
        expect_status: [200],
        timeout_seconds: 300,
        interval_seconds: 2,
      },
    ]);
    assert.equal(spec.container.args, undefined);
  });

  it("expands parameter placeholders in command_args from config and resources", () => {
    const vllm = loadProfile("vllm-openai");
    const spec = renderOciLaunch(
      inputFor(
        vllm,
        resolve(vllm, { model: "org/model-7b", tensor_parallel_size: 2 }, { gpu_count: 2 }),
        [0, 1],
      ),
    );
    assert.deepEqual(spec.container.args?.slice(0, 4), [
      "--model=org/model-7b",
      "--served-model-name=qwen2.5-7b-instruct",
      "--tensor-parallel-size=2",
      "--max-model-len=8192",
    ]);
  });

  it("passes OpenClaw's command_args through as argv", () => {
    const openclaw = loadProfile("openclaw");
    const spec = renderOciLaunch(inputFor(openclaw, resolve(openclaw, {}, {})));
    assert.deepEqual(spec.container.args, [
      "node",
      "dist/index.js",
      "gateway",
      "--bind",
      "lan",
      "--port",
      "18789",
      "--allow-unconfigured",
    ]);
  });

  it("is deterministic", () => {
    const launch = resolve(jupyter, {}, { gpu_count: 0 });
    assert.deepEqual(
      renderOciLaunch(inputFor(jupyter, launch)),
      renderOciLaunch(inputFor(jupyter, launch)),
    );
  });
});

describe("control and remove tasks", () => {
  const identity = { project_id: "p", instance_id: "i", generation: 1, correlation_id: "c" };
  it("target the instance's container and enter the matching pending state", () => {
    assert.equal(renderOciControl(identity, "stop").container_name, "gpuaas-i");
    assert.equal(toPendingState(renderOciControl(identity, "stop")), "stopping");
    assert.equal(toPendingState(renderOciControl(identity, "start")), "starting");
    assert.equal(toPendingState(renderOciControl(identity, "restart")), "restarting");
    assert.equal(toPendingState(renderOciRemove(identity)), "decommissioning");
  });
});

describe("selectEngine", () => {
  it("takes the default engine when enabled, else another active one, else none", () => {
    assert.equal(selectEngine(loadProfile("jupyterlab"), ["node_agent"]), "node_agent");
    assert.equal(selectEngine(loadProfile("vllm-openai"), ["node_agent"]), "node_agent");
    assert.equal(selectEngine(loadProfile("jupyterlab"), []), undefined);
  });
});
