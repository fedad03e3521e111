/**
 * Shared fixtures for the contract's tests: a valid, complete profile (the curated JupyterLab
 * profile as data), a legacy-shaped endpoint, a launch request, artifact records and allocations,
 * and helpers that copy the baseline with one change.
 */
import type { AllocationShape, ArtifactRecord } from "./select-artifact.js";
import type { WorkloadProfile } from "./types.js";
import { validateProfile } from "./validate-profile.js";

/** A JSON object, as a parsed manifest is. */
export type Manifest = Record<string, unknown>;

const BASELINE: Manifest = deepFreeze({
  profile: {
    kind: "gpuaas.launchable_oci_workload",
    schema_version: "v1",
    slug: "jupyterlab",
    display_name: "JupyterLab",
    description: "Browser notebook workspace on an existing allocation.",
    support_level: "platform_curated",
    launch_mode: "existing_allocation",
  },
  artifacts: {
    primary_image: {
      source: "platform_registry",
      artifact_name: "jupyterlab/runtime-cpu",
      digest_required: true,
      media_type: "application/vnd.oci.image.manifest.v1+json",
      accelerator: {
        vendor: "none",
      },
      cpu_architectures: ["amd64", "arm64"],
    },
    nvidia_h200_image: {
      source: "platform_registry",
      artifact_name: "jupyterlab/runtime-nvidia-h200",
      digest_required: true,
      media_type: "application/vnd.oci.image.manifest.v1+json",
      accelerator: {
        vendor: "nvidia",
        family: "hopper",
        skus: ["h200"],
      },
      cpu_architectures: ["amd64"],
    },
    amd_rocm_image: {
      source: "platform_registry",
      artifact_name: "jupyterlab/runtime-amd-rocm",
      digest_required: true,
      media_type: "application/vnd.oci.image.manifest.v1+json",
      accelerator: {
        vendor: "amd",
      },
      cpu_architectures: ["amd64"],
    },
  },
  parameters: {
    schema: {
      type: "object",
      required: ["workspace_mount", "exposure_mode"],
      properties: {
        workspace_mount: {
          type: "string",
          title: "Workspace storage",
          description: "Scratch is deleted with the instance; project storage outlives it.",
          enum: ["scratch", "project_storage"],
          default: "scratch",
        },
        exposure_mode: {
          type: "string",
          title: "Exposure",
          description:
            "Private keeps the notebook on a loopback port of the host (reach it with an SSH tunnel); managed ingress gives it its own platform URL.",
          enum: ["private", "managed_ingress"],
          default: "private",
        },
        host_port: {
          type: "integer",
          title: "Host port",
          description: "Loopback port on the host that forwards to the notebook.",
          minimum: 1024,
          maximum: 65535,
          default: 8888,
        },
        gpu_count: {
          type: "integer",
          title: "GPUs",
          minimum: 0,
          maximum: 8,
          default: 1,
        },
        cpu_cores: {
          type: "integer",
          title: "CPU cores",
          minimum: 1,
          maximum: 128,
          default: 2,
        },
        memory_gib: {
          type: "integer",
          title: "Memory (GiB)",
          minimum: 1,
          maximum: 2048,
          default: 4,
        },
        python_packages: {
          type: "string",
          title: "Python packages",
          description:
            'Extra packages installed before the notebook starts, separated by spaces, e.g. "numpy==2.4.4 pandas>=2.2".',
          default: "",
          maxLength: 4096,
        },
      },
    },
    ui: {
      order: [
        "workspace_mount",
        "exposure_mode",
        "host_port",
        "gpu_count",
        "cpu_cores",
        "memory_gib",
        "python_packages",
      ],
      groups: [
        {
          id: "workspace",
          title: "Workspace",
          fields: ["workspace_mount"],
        },
        {
          id: "access",
          title: "Access",
          fields: ["exposure_mode", "host_port"],
        },
        {
          id: "resources",
          title: "Resources",
          fields: ["gpu_count", "cpu_cores", "memory_gib"],
        },
        {
          id: "packages",
          title: "Packages",
          fields: ["python_packages"],
        },
      ],
      launch_wizard: {
        steps: [
          {
            id: "target",
            title: "Target",
            description: "Choose the active allocation that will host this workload.",
            components: [
              {
                kind: "platform.target_allocation",
                required: true,
              },
            ],
          },
          {
            id: "runtime",
            title: "Runtime",
            description: "Choose the digest-pinned OCI runtime image and runtime inputs.",
            components: [
              {
                kind: "platform.artifact_selector",
                required: true,
              },
              {
                kind: "field",
                name: "python_packages",
                required: false,
              },
            ],
          },
          {
            id: "resources",
            title: "Resources",
            description: "Size the workload for the selected allocation.",
            components: [
              {
                kind: "field",
                name: "gpu_count",
                required: true,
              },
              {
                kind: "field",
                name: "cpu_cores",
                required: true,
              },
              {
                kind: "field",
                name: "memory_gib",
                required: true,
              },
            ],
          },
          {
            id: "storage",
            title: "Storage",
            components: [
              {
                kind: "field",
                name: "workspace_mount",
                required: true,
              },
            ],
          },
          {
            id: "access",
            title: "Access",
            components: [
              {
                kind: "field",
                name: "exposure_mode",
                required: true,
              },
              {
                kind: "field",
                name: "host_port",
                required: true,
              },
            ],
          },
          {
            id: "review",
            title: "Review",
            components: [
              {
                kind: "platform.review",
                required: true,
              },
            ],
          },
        ],
      },
    },
  },
  resources: {
    gpu: {
      min_count: 0,
      default_count: 1,
      max_count: 8,
      placement: "allocation_local",
    },
    cpu: {
      min_cores: 2,
    },
    memory: {
      min_gib: 4,
    },
  },
  storage: {
    mounts: [
      {
        name: "workspace",
        path: "/workspace",
        required: true,
        modes: ["scratch", "project_storage"],
      },
    ],
  },
  network: {
    endpoints: [
      {
        name: "web",
        port: 8888,
        type: "http",
        auth_pattern: "header_injected_jwt",
        managed_ingress: {
          enabled: true,
          route_mode: "host",
          default_open_path: "/lab",
          websocket_required: true,
          client_auth_mode: "browser_oidc",
          idle_timeout_seconds: 3600,
        },
      },
    ],
  },
  execution: {
    default_engine: "node_agent",
    working_dir: "/workspace",
    container_env: {
      HOME: "/workspace",
      JUPYTER_RUNTIME_DIR: "/workspace/.jupyter/runtime",
      JUPYTER_CONFIG_DIR: "/workspace/.jupyter/config",
      JUPYTER_DATA_DIR: "/workspace/.jupyter/data",
      JUPYTER_PREFER_ENV_PATH: "0",
      JUPYTERLAB_SETTINGS_DIR: "/workspace/.jupyter/lab/user-settings",
      JUPYTERLAB_WORKSPACES_DIR: "/workspace/.jupyter/lab/workspaces",
    },
    supported_engines: [
      {
        engine: "node_agent",
        adapter: "oci_container",
        status: "active",
      },
      {
        engine: "docker_compose",
        adapter: "compose_v2",
        status: "future",
      },
      {
        engine: "helm",
        adapter: "helm_values",
        status: "future",
      },
    ],
  },
  outputs: {
    endpoints: [
      {
        name: "web",
        source: "network.endpoints.web",
      },
    ],
    commands: [
      {
        name: "inspect",
        command: "gpuaas apps instances describe",
      },
    ],
  },
  validation: {
    readiness: [
      {
        name: "web_http_ready",
        type: "http",
        endpoint: "web",
        path: "/api",
        expect_status: [200],
        timeout_seconds: 300,
      },
    ],
    smoke: [
      {
        name: "container_running",
        type: "adapter_status",
        status: "running",
      },
    ],
  },
});

/** A deep copy of the valid baseline profile (JupyterLab with CPU, NVIDIA H200 and AMD variants). */
export function baseline(): Manifest {
  return structuredClone(BASELINE) as Manifest;
}

/** The baseline, validated and normalized. */
export function baselineProfile(): WorkloadProfile {
  return profileOf(baseline());
}

/** Validates a manifest that must be valid and returns its normalized profile. */
export function profileOf(manifest: unknown): WorkloadProfile {
  const result = validateProfile(manifest);
  if (result.profile === undefined) {
    throw new Error(`fixture is not a valid profile: ${JSON.stringify(result.issues, null, 2)}`);
  }
  return result.profile;
}

/** Splits an RFC 6901 JSON pointer into unescaped reference tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`not a JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** What a JSON pointer finds in a document: the value, or that nothing is there. */
export type Resolved =
  | { readonly found: true; readonly value: unknown }
  | { readonly found: false };

/** Resolves a JSON pointer against a document, looking at own properties only. */
export function resolvePointer(document: unknown, pointer: string): Resolved {
  let current: unknown = document;
  for (const token of parsePointer(pointer)) {
    if (Array.isArray(current)) {
      if (!/^(?:0|[1-9][0-9]*)$/.test(token)) return { found: false };
      const index = Number(token);
      if (index >= current.length) return { found: false };
      current = current[index];
    } else if (typeof current === "object" && current !== null && Object.hasOwn(current, token)) {
      current = (current as Manifest)[token];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}

function containerOf(document: unknown, pointer: string): [Manifest | unknown[], string] {
  const tokens = parsePointer(pointer);
  const last = tokens.pop();
  if (last === undefined) throw new Error("cannot change the document root");
  let current: unknown = document;
  for (const token of tokens) {
    const next = Array.isArray(current)
      ? current[Number(token)]
      : typeof current === "object" && current !== null
        ? (current as Manifest)[token]
        : undefined;
    if (typeof next !== "object" || next === null) {
      throw new Error(`fixture path ${pointer} does not exist at "${token}"`);
    }
    current = next;
  }
  return [current as Manifest | unknown[], last];
}

/**
 * A deep copy of `from` (the baseline by default) with the value at `pointer` set to `value`.
 * The parent must exist; `-` appends to a list.
 *
 * @example mutate("/network/endpoints/0/type", "websocket")
 */
export function mutate(pointer: string, value: unknown, from: unknown = BASELINE): Manifest {
  const copy = structuredClone(from) as Manifest;
  const [container, key] = containerOf(copy, pointer);
  // Functions and symbols cannot be cloned; tests pass them to show they are refused.
  const fresh = typeof value === "object" && value !== null ? structuredClone(value) : value;
  if (Array.isArray(container)) {
    if (key === "-") container.push(fresh);
    else container[Number(key)] = fresh;
  } else {
    container[key] = fresh;
  }
  return copy;
}

/** A deep copy of `from` (the baseline by default) without the value at `pointer`. */
export function without(pointer: string, from: unknown = BASELINE): Manifest {
  const copy = structuredClone(from) as Manifest;
  const [container, key] = containerOf(copy, pointer);
  if (
    !(Array.isArray(container) ? Number(key) < container.length : Object.hasOwn(container, key))
  ) {
    throw new Error(`fixture path ${pointer} does not exist`);
  }
  if (Array.isArray(container)) container.splice(Number(key), 1);
  else delete container[key];
  return copy;
}

/** Applies several changes in order: `[pointer, value]` sets, `[pointer]` deletes. */
export function change(
  changes: readonly (readonly [string, unknown] | readonly [string])[],
  from: unknown = BASELINE,
): Manifest {
  let document = structuredClone(from) as Manifest;
  for (const entry of changes) {
    document =
      entry.length === 1 ? without(entry[0], document) : mutate(entry[0], entry[1], document);
  }
  return document;
}

/** The seed's legacy (v1) JupyterLab endpoint: protocol, exposure_modes and proxy. */
export function legacyWebEndpoint(): Manifest {
  return {
    name: "web",
    port: 8888,
    protocol: "http",
    exposure_modes: ["platform_proxy"],
    proxy: { default_open_path: "/lab", websocket_required: true, auth_bridge: "jupyter_token" },
  };
}

/** The seed's launch request for the baseline profile. */
export function launchRequest(): Manifest {
  return {
    app_slug: "jupyterlab",
    app_version: "2026.04-preview",
    display_name: "My JupyterLab",
    placement_intent: { target_allocation_id: "3f6c2a9e-4b1d-4c8e-9a7f-2d5b8e1c0a64" },
    config: {
      workspace_mount: "project_storage",
      exposure_mode: "private",
      host_port: 8888,
      python_packages: "numpy==2.4.4 pandas>=2.2",
    },
    resource_overrides: { gpu_count: 0, cpu_cores: 2, memory_gib: 4 },
  };
}

/** A digest of the right form; `seed` varies it. */
export function digestOf(seed: number): string {
  return `sha256:${seed.toString(16).padStart(64, "0")}`;
}

/** A verified artifact record of one of the baseline's variants. */
export function artifactRecord(
  id: string,
  artifactName: string,
  extra: Partial<ArtifactRecord> = {},
): ArtifactRecord {
  return {
    id,
    artifact_name: artifactName,
    repository: `registry.gpuaas.internal/${artifactName}`,
    digest: digestOf(id.length * 7919 + id.charCodeAt(0)),
    media_type: "application/vnd.oci.image.manifest.v1+json",
    state: "published",
    ...extra,
  };
}

/** Allocations of every kind the baseline's variants target. */
export const ALLOCATIONS = {
  cpuAmd64: { id: "alloc-cpu", accelerator: { vendor: "none" }, cpu_architecture: "amd64" },
  cpuArm64: { id: "alloc-arm", accelerator: { vendor: "none" }, cpu_architecture: "arm64" },
  h200: {
    id: "alloc-h200",
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
    cpu_architecture: "amd64",
  },
  h100: {
    id: "alloc-h100",
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h100" },
    cpu_architecture: "amd64",
  },
  gh200: {
    id: "alloc-gh200",
    accelerator: { vendor: "nvidia", family: "hopper", sku: "gh200" },
    cpu_architecture: "arm64",
  },
  mi300x: {
    id: "alloc-mi300x",
    accelerator: { vendor: "amd", family: "cdna3", sku: "mi300x" },
    cpu_architecture: "amd64",
  },
} as const satisfies Record<string, AllocationShape>;

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
