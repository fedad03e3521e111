import type { Issue } from "./issues.js";
import { isRecord, list, record } from "./loose.js";
import type { WorkloadProfile } from "./types.js";
import { validateProfile } from "./validate-profile.js";

/** The outcome of one gate point. */
export type GateStatus = "pass" | "fail" | "not_applicable";

/** One of the ten points of the config-only authoring maturity gate. */
export interface GatePoint {
  readonly point: number;
  readonly key: string;
  readonly title: string;
  readonly status: GateStatus;
  readonly reason: string;
}

/** The gate report: `ready` when the manifest validates and no point fails. */
export interface GateReport {
  readonly ready: boolean;
  readonly points: readonly GatePoint[];
  /** The validation issues; when the manifest does not validate, `points` is empty. */
  readonly issues: readonly Issue[];
}

type Verdict = readonly [GateStatus, string];

/**
 * Checks a manifest against the seed's "Config-Only Authoring Maturity Gate" and reports each of
 * its ten points as pass, fail or not applicable with a reason. Only what the manifest itself
 * shows is judged; points that need a real launch say so.
 */
export function checkAuthoringGate(manifest: unknown): GateReport {
  const validation = validateProfile(manifest);
  if (!validation.ok || validation.profile === undefined)
    return { ready: false, points: [], issues: validation.issues };
  const profile = validation.profile;
  const verdicts: [string, string, Verdict][] = [
    [
      "inputs_declared",
      "All user inputs are declared in parameters.schema and the launch wizard",
      inputsDeclared(profile),
    ],
    [
      "endpoint_exposure_declared",
      "Endpoints use type, auth_pattern and managed_ingress",
      endpointExposure(manifest),
    ],
    [
      "artifact_selection_by_metadata",
      "Artifacts are selected by allocation metadata, not by app slug",
      artifactSelection(profile),
    ],
    [
      "resources_class_neutral",
      "Resources are resource-class-neutral fields",
      resourcesNeutral(profile),
    ],
    [
      "runtime_defaults_in_manifest",
      "Port, command, working dir, readiness and env are manifest inputs",
      runtimeDefaults(profile),
    ],
    [
      "shared_resolver",
      "The generic create path and the wizard share one resolver",
      [
        "not_applicable",
        "a platform property: the API, the CLI and the wizard all call resolveLaunch",
      ],
    ],
    [
      "rejected_before_advertised",
      "Missing artifact, port, architecture, resource class or readiness is caught before launch",
      rejectedEarly(profile),
    ],
    [
      "wizard_from_manifest",
      "The frontend renders the wizard from the manifest",
      wizardFromManifest(profile),
    ],
    [
      "compose_topology",
      "Compose profiles declare a topology and a platform-owned renderer",
      composeTopology(profile),
    ],
    [
      "smoke_evidence",
      "Smoke evidence: one launch and one preflight failure, with correlation ids",
      smokeEvidence(profile),
    ],
  ];
  const points = verdicts.map(([key, title, [status, reason]], index) => ({
    point: index + 1,
    key,
    title,
    status,
    reason,
  }));
  return {
    ready: points.every((point) => point.status !== "fail"),
    points,
    issues: validation.issues,
  };
}

function inputsDeclared(profile: WorkloadProfile): Verdict {
  const inWizard = new Set(
    profile.parameters.ui.launch_wizard.steps.flatMap((step) =>
      step.components.map((component) => component.name),
    ),
  );
  const hidden = Object.entries(profile.parameters.schema.properties)
    .filter(([name, schema]) => !inWizard.has(name) && schema.default === undefined)
    .map(([name]) => name);
  return hidden.length === 0
    ? [
        "pass",
        `${Object.keys(profile.parameters.schema.properties).length} parameters, each in the wizard or defaulted`,
      ]
    : ["fail", `no wizard field and no default for: ${hidden.join(", ")}`];
}

function endpointExposure(manifest: unknown): Verdict {
  const endpoints = list(record(record(manifest).network).endpoints);
  if (endpoints.length === 0) return ["not_applicable", "the profile declares no endpoints"];
  const legacy = endpoints
    .filter(
      (endpoint) =>
        isRecord(endpoint) &&
        ["protocol", "exposure_modes", "proxy"].some((key) => Object.hasOwn(endpoint, key)),
    )
    .map((endpoint) => String(record(endpoint).name));
  return legacy.length === 0
    ? ["pass", `${endpoints.length} endpoint(s) in the v1.1 shape`]
    : [
        "fail",
        `legacy protocol/exposure_modes/proxy fields on: ${legacy.join(", ")}; run gpuaas profiles normalize`,
      ];
}

function artifactSelection(profile: WorkloadProfile): Verdict {
  const variants = Object.values(profile.artifacts);
  const gpuVariants = variants.filter(
    (variant) => (variant.accelerator?.vendor ?? "none") !== "none",
  );
  return [
    "pass",
    `${variants.length} variant(s), ${gpuVariants.length} for GPUs, chosen by accelerator vendor/family/SKU and CPU architecture`,
  ];
}

function resourcesNeutral(profile: WorkloadProfile): Verdict {
  const { gpu, cpu, memory } = profile.resources;
  return [
    "pass",
    `gpu ≥ ${gpu.min_count}, cpu ≥ ${cpu.min_cores} cores, memory ≥ ${memory.min_gib} GiB, ${profile.storage.mounts.length} mount(s), ${profile.network.endpoints.length} endpoint(s)`,
  ];
}

function runtimeDefaults(profile: WorkloadProfile): Verdict {
  if (profile.network.endpoints.length > 0 && profile.validation.readiness.length === 0) {
    return ["fail", "endpoints are declared but validation.readiness is empty"];
  }
  const parts = [
    `${profile.network.endpoints.length} endpoint port(s)`,
    `${profile.validation.readiness.length} readiness probe(s)`,
    profile.execution.command_args !== undefined ? "command_args" : "the image's command",
    profile.execution.working_dir !== undefined ? "working_dir" : "the image's working dir",
    `${Object.keys(profile.execution.container_env ?? {}).length} env var(s)`,
  ];
  return ["pass", parts.join(", ")];
}

function rejectedEarly(profile: WorkloadProfile): Verdict {
  const problems: string[] = [];
  const variants = Object.values(profile.artifacts);
  const cpuVariant = variants.some((variant) => (variant.accelerator?.vendor ?? "none") === "none");
  if (
    profile.resources.gpu.min_count === 0 &&
    !cpuVariant &&
    "gpu_count" in profile.parameters.schema.properties
  ) {
    problems.push("gpu_count may be 0 but there is no CPU-only variant");
  }
  if (profile.network.endpoints.length > 0 && profile.validation.readiness.length === 0) {
    problems.push("no readiness probe, so a failed start cannot be surfaced");
  }
  return problems.length === 0
    ? [
        "pass",
        "artifact variants, endpoint ports, resource minimums and readiness are all declared",
      ]
    : ["fail", problems.join("; ")];
}

function wizardFromManifest(profile: WorkloadProfile): Verdict {
  const kinds = profile.parameters.ui.launch_wizard.steps.flatMap((step) =>
    step.components.map((component) => component.kind),
  );
  if (!kinds.includes("platform.review")) return ["fail", "the wizard has no platform.review step"];
  return ["pass", `${profile.parameters.ui.launch_wizard.steps.length} steps, ending in a review`];
}

function composeTopology(profile: WorkloadProfile): Verdict {
  const usesCompose =
    profile.execution.default_engine === "docker_compose" ||
    profile.execution.supported_engines.some(
      (engine) => engine.engine === "docker_compose" && engine.status === "active",
    );
  if (!usesCompose) return ["not_applicable", "the profile does not use docker_compose"];
  const compose = profile.execution.compose;
  if (compose?.topology === undefined) return ["fail", "execution.compose.topology is missing"];
  return ["pass", `renderer ${compose.renderer}, ${compose.topology.services.length} service(s)`];
}

function smokeEvidence(profile: WorkloadProfile): Verdict {
  if (profile.validation.smoke.length === 0)
    return ["fail", "declare validation.smoke checks for the platform to run"];
  return [
    "not_applicable",
    "evidence comes from a real launch and an intentional preflight failure, recorded with correlation ids",
  ];
}
