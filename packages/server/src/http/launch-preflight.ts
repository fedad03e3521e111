/**
 * The server-side launch preflight (seed 000, "Launch Request Values"): the nine checks an
 * accepted launch must pass, in the seed's order, over data the caller loaded first. Pure: no
 * store, no clock, no config file; the route loads the facts and hands them in, so every check
 * can be tested on its own.
 */
import {
  type Engine,
  LAUNCHABLE_ARTIFACT_STATES,
  type ResolvedLaunch,
  selectArtifact,
} from "@gpuaas/contract";
import { selectEngine } from "@gpuaas/engines";
import type { Allocation, AppVersion, Artifact } from "../store/types.js";
import type { ApiErrorCode } from "./api-error.js";

/** The nine checks, in the order they run. */
export const LAUNCH_CHECKS = [
  "allocation_active",
  "allocation_in_project",
  "app_entitled_and_published",
  "artifact_launchable",
  "digest_trusted",
  "storage_available",
  "exposure_supported",
  "shape_fits",
  "adapter_enabled",
] as const;

/** One of the nine preflight checks. */
export type LaunchCheck = (typeof LAUNCH_CHECKS)[number];

/** Everything the checks look at, loaded by the caller before the preflight runs. */
export interface LaunchFacts {
  /** The project the launch is for (from the path, already authorised). */
  readonly project_id: string;
  readonly version: AppVersion;
  /** The request as `resolveLaunch` typed and defaulted it. */
  readonly launch: ResolvedLaunch;
  readonly allocation: Allocation;
  /** Whether the project holds an enabled entitlement for the app. */
  readonly entitled: boolean;
  /** Every artifact record of the app version, in any state. */
  readonly artifacts: readonly Artifact[];
  /** GPU indices of the allocation that other instances hold. */
  readonly claimed_gpu_indices: readonly number[];
  /** GPUs the instance already holds (upgrade, rollback): kept when they still fit. */
  readonly held_gpu_indices?: readonly number[];
  /** An artifact to prefer when it is still launchable and fits (rollback to what ran before). */
  readonly preferred_artifact_id?: string;
}

/** What the environment offers, from the server configuration. */
export interface LaunchEnvironment {
  /** Host (and port) of the platform registry, e.g. `127.0.0.1:5055`. */
  readonly registry_host: string;
  /** The operator's fail-closed switch for launchable OCI node tasks. */
  readonly oci_node_tasks_enabled: boolean;
  /** `<app_slug>.<endpoint>` → public host; managed ingress exists only for mapped endpoints. */
  readonly managed_ingress_host_map: Readonly<Record<string, string>>;
}

/** Why a launch is refused: the failed check, its API code and a sentence a user can act on. */
export interface LaunchRefusal {
  readonly check: LaunchCheck;
  readonly code: ApiErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What an accepted launch runs: the artifact split into registry and repository, GPUs, engine. */
export interface LaunchPlan {
  readonly artifact: Artifact;
  /** The profile's artifact variant key the record implements. */
  readonly variant: string;
  /** Registry host of the artifact, e.g. `127.0.0.1:5055`. */
  readonly registry: string;
  /** Repository inside the registry, e.g. `gpuaas/jupyterlab`. */
  readonly repository: string;
  /** Host GPU indices to claim, lowest free first. */
  readonly gpu_indices: readonly number[];
  readonly engine: Engine;
}

/** The preflight's verdict. */
export type PreflightResult =
  | { readonly ok: true; readonly plan: LaunchPlan }
  | { readonly ok: false; readonly refusal: LaunchRefusal };

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The registry host of a registry base URL: `http://127.0.0.1:5055/` → `127.0.0.1:5055`. */
export function toRegistryHost(registryUrl: string): string {
  return registryUrl.replace(/^https?:\/\//, "").replace(/\/+$/, "");
}

/**
 * Runs the nine launch checks in the seed's order and stops at the first failure, so each
 * refusal names one cause. On success returns the plan the launch task is rendered from.
 *
 * @example
 * const verdict = runLaunchPreflight(facts, env);
 * if (!verdict.ok) throw new ApiError(verdict.refusal.code, verdict.refusal.message);
 */
export function runLaunchPreflight(facts: LaunchFacts, env: LaunchEnvironment): PreflightResult {
  const { allocation, launch, version } = facts;
  const refuse = (
    check: LaunchCheck,
    code: ApiErrorCode,
    message: string,
    details?: Readonly<Record<string, unknown>>,
  ): PreflightResult => ({
    ok: false,
    refusal: { check, code, message, ...(details !== undefined ? { details } : {}) },
  });
  const app = `${version.app_slug} ${version.version}`;

  // 1. The allocation is active.
  if (allocation.state !== "active") {
    return refuse(
      "allocation_active",
      "launch.allocation_not_active",
      `allocation ${allocation.id} is ${allocation.state}, not active; launch on one of your project's active allocations`,
      { allocation_id: allocation.id, state: allocation.state },
    );
  }

  // 2. The allocation belongs to the project.
  if (allocation.project_id !== facts.project_id) {
    return refuse(
      "allocation_in_project",
      "launch.allocation_other_project",
      `allocation ${allocation.id} belongs to another project; set placement_intent.target_allocation_id to one of this project's allocations`,
      { allocation_id: allocation.id },
    );
  }

  // 3. The app is entitled and the version published.
  if (!facts.entitled) {
    return refuse(
      "app_entitled_and_published",
      "launch.app_not_entitled",
      `this project is not entitled to launch "${version.app_slug}"; ask a platform operator to enable it for the project`,
      { app_slug: version.app_slug },
    );
  }
  if (!version.published) {
    return refuse(
      "app_entitled_and_published",
      "launch.app_not_published",
      `${app} is not published; pick a published version from the catalog`,
      { app_slug: version.app_slug, app_version: version.version },
    );
  }

  // 4. The selected artifact is published or promoted, never retired, and fits the allocation.
  const picked = pickArtifact(facts);
  if (!picked.ok) return { ok: false, refusal: picked.refusal };
  const artifact = picked.artifact;

  // 5. The digest is immutable and the record trusted: a verified record in the platform registry.
  const slash = artifact.repository.indexOf("/");
  const registry = slash > 0 ? artifact.repository.slice(0, slash) : "";
  const repository = slash > 0 ? artifact.repository.slice(slash + 1) : artifact.repository;
  if (!DIGEST.test(artifact.digest)) {
    return refuse(
      "digest_trusted",
      "launch.digest_untrusted",
      `artifact ${artifact.id} is not pinned to a sha256 digest; only digest-pinned artifacts can be launched`,
      { artifact_id: artifact.id },
    );
  }
  if (artifact.verified_at === null) {
    return refuse(
      "digest_trusted",
      "launch.digest_untrusted",
      `artifact ${artifact.id} was never verified against the registry; ask a platform operator to verify it`,
      { artifact_id: artifact.id },
    );
  }
  if (registry !== env.registry_host) {
    return refuse(
      "digest_trusted",
      "launch.digest_untrusted",
      `artifact ${artifact.id} is not in the platform registry (${env.registry_host}); pick an artifact from the platform registry`,
      { artifact_id: artifact.id, registry, platform_registry: env.registry_host },
    );
  }

  // 6. Storage modes are allowed by the profile and available on the allocation.
  const mounts = new Map(version.profile.storage.mounts.map((mount) => [mount.name, mount]));
  for (const mount of launch.storage) {
    const declared = mounts.get(mount.name);
    if (declared === undefined || !declared.modes.includes(mount.mode)) {
      return refuse(
        "storage_available",
        "launch.storage_mode_not_allowed",
        `${app} does not allow ${mount.mode} for mount "${mount.name}"; choose one of ${declared?.modes.join(", ") ?? "its modes"}`,
        { mount: mount.name, mode: mount.mode },
      );
    }
    if (!allocation.storage_modes.includes(mount.mode)) {
      const usable = declared.modes.filter((mode) => allocation.storage_modes.includes(mode));
      return refuse(
        "storage_available",
        "launch.storage_mode_not_allowed",
        `allocation ${allocation.id} does not offer ${mount.mode} storage for mount "${mount.name}"; ${
          usable.length > 0
            ? `choose ${usable.join(" or ")}`
            : "pick an allocation that offers one of its modes"
        }`,
        { mount: mount.name, mode: mount.mode, available: allocation.storage_modes },
      );
    }
  }

  // 7. The exposure mode is supported by the environment.
  const managed = launch.endpoints.filter((endpoint) => endpoint.managed_ingress);
  if (launch.exposure_mode === "managed_ingress" && managed.length === 0) {
    return refuse(
      "exposure_supported",
      "launch.exposure_not_supported",
      `${app} has no endpoint that can be exposed through managed ingress; use exposure_mode "private"`,
      { exposure_mode: launch.exposure_mode },
    );
  }
  for (const endpoint of managed) {
    const key = `${version.app_slug}.${endpoint.name}`;
    if (env.managed_ingress_host_map[key] === undefined) {
      return refuse(
        "exposure_supported",
        "launch.exposure_not_supported",
        `managed ingress is not configured for endpoint "${endpoint.name}" of ${version.app_slug} in this environment; use exposure_mode "private"`,
        { exposure_mode: launch.exposure_mode, endpoint: endpoint.name },
      );
    }
  }

  // 8. The GPU/CPU/memory shape fits the allocation, and enough of its GPUs are free.
  const { gpu_count, cpu_cores, memory_gib } = launch.resources;
  const exceeded = [
    ...(gpu_count > allocation.gpu_indices.length
      ? [`${gpu_count} GPU(s) requested, the allocation has ${allocation.gpu_indices.length}`]
      : []),
    ...(cpu_cores > allocation.cpu_cores
      ? [`${cpu_cores} CPU cores requested, the allocation has ${allocation.cpu_cores}`]
      : []),
    ...(memory_gib > allocation.memory_gib
      ? [`${memory_gib} GiB memory requested, the allocation has ${allocation.memory_gib}`]
      : []),
  ];
  if (exceeded.length > 0) {
    return refuse(
      "shape_fits",
      "launch.shape_exceeds_allocation",
      `the requested shape does not fit allocation ${allocation.id}: ${exceeded.join("; ")}; lower resource_overrides`,
      {
        requested: { gpu_count, cpu_cores, memory_gib },
        allocation: {
          gpu_count: allocation.gpu_indices.length,
          cpu_cores: allocation.cpu_cores,
          memory_gib: allocation.memory_gib,
        },
      },
    );
  }
  const gpus = pickGpuIndices(allocation.gpu_indices, facts, gpu_count);
  if (gpus === undefined) {
    const free = allocation.gpu_indices.filter(
      (index) => !facts.claimed_gpu_indices.includes(index),
    );
    return refuse(
      "shape_fits",
      "launch.gpus_claimed",
      `${gpu_count} GPU(s) requested but only ${free.length} of allocation ${allocation.id}'s ${allocation.gpu_indices.length} are free (the others are claimed by other instances); stop or decommission one of them, or request fewer GPUs`,
      {
        requested: gpu_count,
        free_gpu_indices: free,
        claimed_gpu_indices: facts.claimed_gpu_indices,
      },
    );
  }

  // 9. The execution adapter is enabled: fail-closed unless the operator turned it on.
  const engine = env.oci_node_tasks_enabled
    ? selectEngine(version.profile, ["node_agent"])
    : undefined;
  if (engine === undefined) {
    return refuse(
      "adapter_enabled",
      "launch.adapter_disabled",
      env.oci_node_tasks_enabled
        ? `${app} declares no active engine this environment runs; it cannot be launched here`
        : "launching OCI workloads on nodes is disabled in this environment; ask a platform operator to enable it",
      { oci_node_tasks_enabled: env.oci_node_tasks_enabled },
    );
  }

  return {
    ok: true,
    plan: { artifact, variant: picked.variant, registry, repository, gpu_indices: gpus, engine },
  };
}

type Picked =
  | { readonly ok: true; readonly artifact: Artifact; readonly variant: string }
  | { readonly ok: false; readonly refusal: LaunchRefusal };

/** Check 4: the record the user named, the preferred one, or the platform's pick. */
function pickArtifact(facts: LaunchFacts): Picked {
  const { version, allocation, launch, artifacts } = facts;
  const app = `${version.app_slug} ${version.version}`;
  const gpuCount = launch.resources.gpu_count;
  const refuse = (
    code: ApiErrorCode,
    message: string,
    details: Readonly<Record<string, unknown>>,
  ): Picked => ({
    ok: false,
    refusal: {
      check: code === "launch.shape_exceeds_allocation" ? "shape_fits" : "artifact_launchable",
      code,
      message,
      details,
    },
  });
  const fromRecord = (record: Artifact): Picked | undefined => {
    const selection = selectArtifact(version.profile, allocation, [record], {
      gpu_count: gpuCount,
    });
    return selection.ok && selection.variant !== undefined
      ? { ok: true, artifact: record, variant: selection.variant }
      : undefined;
  };
  const byId = (id: string) => artifacts.find((record) => record.id === id);

  if (launch.artifact_id !== undefined) {
    const record = byId(launch.artifact_id);
    if (record === undefined) {
      return refuse(
        "launch.artifact_not_found",
        `artifact ${launch.artifact_id} is not an artifact of ${app}; omit artifact_id to let the platform pick, or pick one of this version's artifacts`,
        { artifact_id: launch.artifact_id },
      );
    }
    if (!LAUNCHABLE_ARTIFACT_STATES.includes(record.state)) {
      return refuse(
        "launch.artifact_not_promoted",
        `artifact ${record.id} is ${record.state}; only published or promoted artifacts can be launched, so pick another or omit artifact_id`,
        { artifact_id: record.id, state: record.state },
      );
    }
  }
  const preferred =
    launch.artifact_id !== undefined
      ? byId(launch.artifact_id)
      : facts.preferred_artifact_id !== undefined
        ? byId(facts.preferred_artifact_id)
        : undefined;
  const fitted = preferred === undefined ? undefined : fromRecord(preferred);
  if (fitted !== undefined) return fitted;
  const candidates =
    launch.artifact_id !== undefined && preferred !== undefined ? [preferred] : artifacts;
  const selection = selectArtifact(version.profile, allocation, candidates, {
    gpu_count: gpuCount,
  });
  if (selection.ok && selection.artifact !== undefined && selection.variant !== undefined) {
    const record = byId(selection.artifact.id);
    if (record !== undefined) return { ok: true, artifact: record, variant: selection.variant };
  }
  const issue = selection.issues[0];
  const reasons = selection.candidates.map(({ artifact_id, reason }) => ({ artifact_id, reason }));
  if (issue?.code === "artifact.gpu_requested_on_cpu_allocation") {
    return refuse(
      "launch.shape_exceeds_allocation",
      `${gpuCount} GPU(s) requested, but allocation ${allocation.id} has no GPUs; set resource_overrides.gpu_count to 0 or pick a GPU allocation`,
      { requested: { gpu_count: gpuCount }, allocation: { gpu_count: 0 } },
    );
  }
  if (launch.artifact_id !== undefined) {
    return refuse(
      "launch.artifact_no_match",
      `artifact ${launch.artifact_id} does not fit allocation ${allocation.id} (${reasons[0]?.reason ?? "no match"}); pick a matching artifact or omit artifact_id`,
      { artifact_id: launch.artifact_id, candidates: reasons },
    );
  }
  if (!artifacts.some((record) => LAUNCHABLE_ARTIFACT_STATES.includes(record.state))) {
    return refuse(
      "launch.artifact_not_promoted",
      `${app} has no published or promoted artifact; ask a platform operator to publish one, or pick another version`,
      { artifact_states: artifacts.map(({ id, state }) => ({ artifact_id: id, state })) },
    );
  }
  return refuse(
    "launch.artifact_no_match",
    `no published or promoted artifact of ${app} fits allocation ${allocation.id} (${allocation.cpu_architecture}, ${describeAccelerator(allocation)}, ${gpuCount} GPU(s) requested); pick another allocation or change gpu_count`,
    { candidates: reasons },
  );
}

function describeAccelerator(allocation: Allocation): string {
  const { vendor, family, sku } = allocation.accelerator;
  return vendor === "none" ? "no accelerator" : [vendor, family, sku].filter(Boolean).join("/");
}

/**
 * The GPUs to claim: the ones the instance already holds when they still fit exactly, else the
 * lowest `count` indices of the mask nobody else claims; undefined when too few are free (a
 * launch never spills over onto another instance's devices).
 */
function pickGpuIndices(
  mask: readonly number[],
  facts: LaunchFacts,
  count: number,
): number[] | undefined {
  const free = (index: number) =>
    mask.includes(index) && !facts.claimed_gpu_indices.includes(index);
  const held = facts.held_gpu_indices;
  if (held !== undefined && held.length === count && held.every(free)) {
    return [...held].sort((a, b) => a - b);
  }
  const available = [...mask].sort((a, b) => a - b).filter(free);
  return available.length < count ? undefined : available.slice(0, count);
}
