/**
 * The launch wizard's model, generated from a profile alone (seed 000, "Endpoint Exposure
 * Contract": the manifest owns step names, order and fields; the platform owns the shell, the
 * validation gates and the reserved `platform.*` components). Pure: no DOM, no React, no fetch, so
 * every rule here is tested with node:test.
 *
 * Validation is the contract's `resolveLaunch` — the function the server runs on the same body —
 * plus the platform components' own checks. Every issue carries a JSON pointer into the launch
 * request; a pointer names the component that owns it, and the component names its step.
 */
import {
  type ArtifactSelection,
  escapePointerToken,
  type Issue,
  type LaunchRequest,
  MOUNT_MODE_PARAMETER_SUFFIX,
  PYTHON_PACKAGES_PARAMETER,
  RESOURCE_PARAMETERS,
  type ResourceParameter,
  resolveLaunch,
  selectArtifact,
  type WizardComponent,
  type WizardStep,
  type WorkloadProfile,
} from "@gpuaas/contract";
import type { Allocation, ApiErrorBody, Artifact } from "./api-types.js";

/** A problem shown in the wizard: where it belongs (a launch-request pointer) and what to do. */
export interface WizardIssue {
  readonly pointer: string;
  readonly code: string;
  readonly message: string;
  readonly severity: "error" | "warning";
}

/** What the user has chosen so far. */
export interface WizardState {
  readonly allocationId: string | undefined;
  /** The artifact the user picked; undefined means "the platform's best match". */
  readonly artifactId: string | undefined;
  /** Parameter values by name (resource parameters included), defaults filled in. */
  readonly values: Readonly<Record<string, unknown>>;
  /** Parameters the user changed; allocation fitting leaves them alone. */
  readonly touched: ReadonlySet<string>;
  readonly displayName: string;
  readonly accessCredentialId: string | undefined;
  readonly serviceAccountId: string | undefined;
}

/** Pointers the platform components own. */
export const ALLOCATION_POINTER = "/placement_intent/target_allocation_id";
export const ARTIFACT_POINTER = "/artifact_id";
export const DISPLAY_NAME_POINTER = "/display_name";
export const ACCESS_CREDENTIAL_POINTER = "/platform/access_credential";
export const SERVICE_ACCOUNT_POINTER = "/platform/operator_service_account";

/** True for `gpu_count`, `cpu_cores`, `memory_gib`: they travel in `resource_overrides`. */
export function isResourceParameter(name: string): name is ResourceParameter {
  return (RESOURCE_PARAMETERS as readonly string[]).includes(name);
}

/** The launch-request pointer of a parameter: `/resource_overrides/<name>` or `/config/<name>`. */
export function toFieldPointer(name: string): string {
  return isResourceParameter(name)
    ? `/resource_overrides/${name}`
    : `/config/${escapePointerToken(name)}`;
}

/** The pointers a component owns; an issue at or below one of them is shown on the component. */
export function toComponentPointers(component: WizardComponent): readonly string[] {
  switch (component.kind) {
    case "platform.target_allocation":
      return ["/placement_intent"];
    case "platform.artifact_selector":
      return [ARTIFACT_POINTER];
    case "platform.access_credential":
      return [ACCESS_CREDENTIAL_POINTER];
    case "platform.operator_service_account":
      return [SERVICE_ACCOUNT_POINTER];
    case "platform.review":
      return [DISPLAY_NAME_POINTER];
    case "field":
      return component.name === undefined ? [] : [toFieldPointer(component.name)];
  }
}

/** True when `pointer` is `owner` or inside it. */
export function isPointerWithin(pointer: string, owner: string): boolean {
  return pointer === owner || pointer.startsWith(`${owner}/`);
}

/** The index of the step that shows an issue at `pointer`; the last step when none claims it. */
export function findStepOfPointer(steps: readonly WizardStep[], pointer: string): number {
  const index = steps.findIndex((step) =>
    step.components.some((component) =>
      toComponentPointers(component).some((owner) => isPointerWithin(pointer, owner)),
    ),
  );
  return index >= 0 ? index : Math.max(steps.length - 1, 0);
}

/** The issues a step shows: those its components own; the last step also takes the unclaimed. */
export function selectStepIssues(
  steps: readonly WizardStep[],
  stepIndex: number,
  issues: readonly WizardIssue[],
): WizardIssue[] {
  return issues.filter((issue) => findStepOfPointer(steps, issue.pointer) === stepIndex);
}

/** The field names a step renders, in the manifest's order. */
export function listStepFields(step: WizardStep): string[] {
  return step.components
    .filter((component) => component.kind === "field" && component.name !== undefined)
    .map((component) => component.name as string);
}

/** The smallest and largest value a resource parameter may take (resources ∩ parameter bounds). */
export function resourceBounds(
  profile: WorkloadProfile,
  name: ResourceParameter,
): { readonly min: number; readonly max: number | undefined } {
  const parameter = profile.parameters.schema.properties[name];
  const { gpu, cpu, memory } = profile.resources;
  const limits = {
    gpu_count: { min: gpu.min_count, max: gpu.max_count },
    cpu_cores: { min: cpu.min_cores, max: cpu.max_cores },
    memory_gib: { min: memory.min_gib, max: memory.max_gib },
  }[name];
  const maxima = [limits.max, parameter?.maximum].filter(
    (limit): limit is number => limit !== undefined,
  );
  return {
    min: Math.ceil(Math.max(limits.min, parameter?.minimum ?? 0)),
    max: maxima.length > 0 ? Math.min(...maxima) : undefined,
  };
}

/** Every parameter with its starting value: the schema default, or the resource fallback. */
export function createInitialValues(profile: WorkloadProfile): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(profile.parameters.schema.properties)) {
    if (schema.default !== undefined) values[name] = schema.default;
    else if (isResourceParameter(name)) {
      values[name] =
        name === "gpu_count"
          ? (profile.resources.gpu.default_count ?? resourceBounds(profile, name).min)
          : resourceBounds(profile, name).min;
    }
  }
  return values;
}

/** The initial wizard state for a profile. */
export function createWizardState(profile: WorkloadProfile): WizardState {
  return {
    allocationId: undefined,
    artifactId: undefined,
    values: createInitialValues(profile),
    touched: new Set(),
    displayName: "",
    accessCredentialId: undefined,
    serviceAccountId: undefined,
  };
}

/** What {@link fitToAllocation} changed, so the wizard can say so. */
export interface FitNote {
  readonly name: string;
  readonly from: unknown;
  readonly to: unknown;
}

/**
 * Adapts the values the user has not touched to a newly chosen allocation: resource defaults
 * larger than the allocation shrink to its size (never below the profile's minimum), and a
 * storage mode the allocation does not offer moves to one it does. Platform rules for the
 * platform's parameters, the same for every app.
 */
export function fitToAllocation(
  profile: WorkloadProfile,
  values: Readonly<Record<string, unknown>>,
  touched: ReadonlySet<string>,
  allocation: Allocation,
): { readonly values: Record<string, unknown>; readonly notes: FitNote[] } {
  const next: Record<string, unknown> = { ...values };
  const notes: FitNote[] = [];
  const initial = createInitialValues(profile);
  const capacity: Record<ResourceParameter, number> = {
    gpu_count: allocation.gpu_indices.length,
    cpu_cores: allocation.cpu_cores,
    memory_gib: allocation.memory_gib,
  };
  const properties = profile.parameters.schema.properties;
  for (const name of RESOURCE_PARAMETERS) {
    if (!Object.hasOwn(properties, name) || touched.has(name)) continue;
    const wanted = typeof initial[name] === "number" ? (initial[name] as number) : undefined;
    if (wanted === undefined) continue;
    const fitted = Math.max(Math.min(wanted, capacity[name]), resourceBounds(profile, name).min);
    if (fitted !== next[name]) {
      notes.push({ name, from: wanted, to: fitted });
      next[name] = fitted;
    }
  }
  for (const mount of profile.storage.mounts) {
    const name = `${mount.name}${MOUNT_MODE_PARAMETER_SUFFIX}`;
    const schema = properties[name];
    if (schema === undefined || touched.has(name)) continue;
    const preferred = initial[name];
    const offered = (schema.enum ?? mount.modes).filter(
      (mode): mode is string => typeof mode === "string" && allocation.storage_modes.includes(mode),
    );
    const fitted =
      typeof preferred === "string" && offered.includes(preferred) ? preferred : offered[0];
    if (fitted !== undefined && fitted !== next[name]) {
      notes.push({ name, from: next[name], to: fitted });
      next[name] = fitted;
    }
  }
  return { values: next, notes };
}

/** The launch request the wizard submits — the same body the API and the CLI take. */
export function buildLaunchRequest(
  profile: WorkloadProfile,
  appVersion: string,
  state: WizardState,
): LaunchRequest {
  const config: Record<string, unknown> = {};
  const overrides: Partial<Record<ResourceParameter, number>> = {};
  for (const name of Object.keys(profile.parameters.schema.properties)) {
    const value = state.values[name];
    if (value === undefined) continue;
    if (isResourceParameter(name)) overrides[name] = value as number;
    else config[name] = value;
  }
  const displayName = state.displayName.trim();
  return {
    app_slug: profile.profile.slug,
    app_version: appVersion,
    ...(displayName.length > 0 ? { display_name: displayName } : {}),
    placement_intent: { target_allocation_id: state.allocationId ?? "" },
    ...(state.artifactId !== undefined ? { artifact_id: state.artifactId } : {}),
    config,
    resource_overrides: overrides,
  };
}

/** One artifact as the selector lists it. */
export interface ArtifactChoice {
  readonly artifact: Artifact;
  readonly eligible: boolean;
  readonly reason: string;
  readonly variant: string | undefined;
}

/** The artifacts of the chosen allocation and GPU count: the platform's pick and every reason. */
export interface ArtifactChoices {
  readonly best: Artifact | undefined;
  readonly choices: readonly ArtifactChoice[];
  /** Why nothing fits, when nothing does. */
  readonly problem: string | undefined;
  readonly selection: ArtifactSelection | undefined;
}

/**
 * Lists the artifacts for the selector with the contract's `selectArtifact`, the function the
 * server's preflight uses: only verified records are candidates (the preflight refuses the rest).
 */
export function listArtifactChoices(
  profile: WorkloadProfile,
  allocation: Allocation | undefined,
  artifacts: readonly Artifact[],
  gpuCount: number,
): ArtifactChoices {
  if (allocation === undefined)
    return {
      best: undefined,
      choices: [],
      problem: "Choose an allocation first.",
      selection: undefined,
    };
  const verified = artifacts.filter((artifact) => artifact.verified_at !== null);
  const selection = selectArtifact(profile, allocation, verified, { gpu_count: gpuCount });
  const byId = new Map(artifacts.map((artifact) => [artifact.id, artifact]));
  const choices: ArtifactChoice[] = selection.candidates.flatMap((candidate) => {
    const artifact = byId.get(candidate.artifact_id);
    return artifact === undefined
      ? []
      : [
          {
            artifact,
            eligible: candidate.eligible,
            reason: candidate.reason,
            variant: candidate.variant,
          },
        ];
  });
  for (const artifact of artifacts) {
    if (artifact.verified_at === null)
      choices.push({
        artifact,
        eligible: false,
        reason: "not verified against the registry yet",
        variant: undefined,
      });
  }
  const best = selection.artifact === undefined ? undefined : byId.get(selection.artifact.id);
  return {
    best,
    choices,
    problem: selection.ok ? undefined : (selection.issues[0]?.message ?? "No artifact fits."),
    selection,
  };
}

/** The gpu_count a launch would request as the state stands. */
export function currentGpuCount(profile: WorkloadProfile, state: WizardState): number {
  return typeof state.values.gpu_count === "number"
    ? state.values.gpu_count
    : (profile.resources.gpu.default_count ?? profile.resources.gpu.min_count);
}

/**
 * The artifact the launch pins: the one the user picked, else the platform's best match for the
 * allocation and GPU count — so the digest on the review is the digest that runs. Undefined when
 * the profile has no artifact selector (the platform then picks on the server).
 */
export function resolveEffectiveArtifactId(
  context: WizardContext,
  state: WizardState,
): string | undefined {
  const hasSelector = wizardComponents(context.profile).some(
    (component) => component.kind === "platform.artifact_selector",
  );
  if (!hasSelector) return undefined;
  if (state.artifactId !== undefined) return state.artifactId;
  const allocation = context.allocations.find((candidate) => candidate.id === state.allocationId);
  return listArtifactChoices(
    context.profile,
    allocation,
    context.artifacts,
    currentGpuCount(context.profile, state),
  ).best?.id;
}

/** The request the wizard submits now. */
export function toSubmission(context: WizardContext, state: WizardState): LaunchRequest {
  return buildLaunchRequest(context.profile, context.appVersion, {
    ...state,
    artifactId: resolveEffectiveArtifactId(context, state),
  });
}

/** What the wizard needs to validate a step besides the state. */
export interface WizardContext {
  readonly profile: WorkloadProfile;
  readonly appVersion: string;
  readonly allocations: readonly Allocation[];
  readonly artifacts: readonly Artifact[];
  /** Service accounts of the project, when the profile asks for one. */
  readonly serviceAccounts: readonly { readonly id: string }[];
  /** Access credentials of the project, when the platform offers them (it does not yet). */
  readonly accessCredentials: readonly { readonly id: string }[] | undefined;
}

function toWizardIssue(issue: Issue): WizardIssue {
  return {
    pointer: issue.pointer,
    code: issue.code,
    message: issue.message,
    severity: issue.severity === "error" ? "error" : "warning",
  };
}

function wizardComponents(profile: WorkloadProfile): WizardComponent[] {
  return profile.parameters.ui.launch_wizard.steps.flatMap((step) => [...step.components]);
}

/**
 * Every issue of the launch as it stands: the contract's `resolveLaunch` over the request the
 * wizard would submit, the platform components' checks, and the allocation's capacity and storage
 * (the checks the server's preflight makes on the same facts). Sorted by pointer, errors first.
 */
export function validateWizard(context: WizardContext, state: WizardState): WizardIssue[] {
  const { profile } = context;
  const components = wizardComponents(profile);
  const has = (kind: WizardComponent["kind"]) =>
    components.find((component) => component.kind === kind);
  const platform: WizardIssue[] = [];
  const allocation = context.allocations.find((candidate) => candidate.id === state.allocationId);
  if (allocation === undefined) {
    platform.push({
      pointer: ALLOCATION_POINTER,
      code: "wizard.allocation_required",
      message:
        state.allocationId === undefined
          ? "Choose the allocation this workload runs on."
          : "This allocation is no longer active; choose another one.",
      severity: "error",
    });
  }
  const artifactComponent = has("platform.artifact_selector");
  if (allocation !== undefined && artifactComponent !== undefined) {
    const { best, choices, problem } = listArtifactChoices(
      profile,
      allocation,
      context.artifacts,
      currentGpuCount(profile, state),
    );
    const picked = choices.find((choice) => choice.artifact.id === state.artifactId);
    if (state.artifactId !== undefined && picked?.eligible !== true) {
      platform.push({
        pointer: ARTIFACT_POINTER,
        code: "wizard.artifact_ineligible",
        message: `The selected image does not fit this allocation${picked !== undefined ? ` (${picked.reason})` : ""}; choose another.`,
        severity: "error",
      });
    } else if (best === undefined && artifactComponent.required !== false) {
      platform.push({
        pointer: ARTIFACT_POINTER,
        code: "wizard.artifact_none",
        message: problem ?? "No published image fits this allocation.",
        severity: "error",
      });
    }
  }
  const credential = has("platform.access_credential");
  if (credential?.required === true && state.accessCredentialId === undefined) {
    platform.push({
      pointer: ACCESS_CREDENTIAL_POINTER,
      code: "wizard.access_credential_required",
      message:
        context.accessCredentials === undefined
          ? "This app needs a project access credential, and this control plane does not manage access credentials yet."
          : "Choose the access credential this app uses.",
      severity: "error",
    });
  }
  const account = has("platform.operator_service_account");
  if (account?.required === true && state.serviceAccountId === undefined) {
    platform.push({
      pointer: SERVICE_ACCOUNT_POINTER,
      code: "wizard.service_account_required",
      message:
        context.serviceAccounts.length === 0
          ? "This app needs a project service account, and the project has none; ask a project admin to create one."
          : "Choose the service account this app acts as.",
      severity: "error",
    });
  }
  for (const component of components) {
    if (component.kind !== "field" || component.required !== true || component.name === undefined)
      continue;
    if (state.values[component.name] === undefined) {
      platform.push({
        pointer: toFieldPointer(component.name),
        code: "wizard.field_required",
        message: "Enter a value.",
        severity: "error",
      });
    }
  }
  const resolution = resolveLaunch(profile, toSubmission(context, state));
  const claimed = new Set(platform.map((issue) => issue.pointer));
  const contract = resolution.issues
    .map(toWizardIssue)
    .filter((issue) => !claimed.has(issue.pointer));
  const placement =
    allocation !== undefined && resolution.launch !== undefined
      ? checkPlacement(allocation, resolution.launch)
      : [];
  return sortIssues([...platform, ...contract, ...placement]);
}

/**
 * The allocation-side checks of the server's preflight that a form can show beside a field:
 * storage the allocation offers (check 6) and the shape it can hold (check 8).
 */
export function checkPlacement(
  allocation: Allocation,
  launch: NonNullable<ReturnType<typeof resolveLaunch>["launch"]>,
): WizardIssue[] {
  const issues: WizardIssue[] = [];
  for (const mount of launch.storage) {
    if (!allocation.storage_modes.includes(mount.mode)) {
      issues.push({
        pointer: `/config/${escapePointerToken(`${mount.name}${MOUNT_MODE_PARAMETER_SUFFIX}`)}`,
        code: "wizard.storage_not_offered",
        message: `This allocation does not offer ${mount.mode.replace("_", " ")}; it offers ${allocation.storage_modes.join(" and ").replace("_", " ") || "no storage"}.`,
        severity: "error",
      });
    }
  }
  const capacity: Record<ResourceParameter, [number, string]> = {
    gpu_count: [allocation.gpu_indices.length, "GPU(s)"],
    cpu_cores: [allocation.cpu_cores, "CPU cores"],
    memory_gib: [allocation.memory_gib, "GiB of memory"],
  };
  for (const name of RESOURCE_PARAMETERS) {
    const [limit, unit] = capacity[name];
    const requested = launch.resources[name];
    if (requested > limit) {
      issues.push({
        pointer: `/resource_overrides/${name}`,
        code: "wizard.exceeds_allocation",
        message: `The allocation has ${limit} ${unit}; request ${limit} or fewer.`,
        severity: "error",
      });
    }
  }
  return issues;
}

function sortIssues(issues: WizardIssue[]): WizardIssue[] {
  return issues.sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1) ||
      (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0),
  );
}

/** The errors of one field, keyed for the form: `{<name>: ["message", …]}`. */
export function groupFieldErrors(
  fields: readonly string[],
  issues: readonly WizardIssue[],
): Record<string, string[]> {
  const grouped: Record<string, string[]> = {};
  for (const name of fields) {
    const pointer = toFieldPointer(name);
    const messages = issues
      .filter((issue) => issue.severity === "error" && isPointerWithin(issue.pointer, pointer))
      .map((issue) => issue.message);
    if (messages.length > 0) grouped[name] = [...new Set(messages)];
  }
  return grouped;
}

/**
 * Maps a refusal of `POST …/app-instances` onto wizard pointers: `launch.invalid` carries the
 * contract's issues with their pointers; a preflight refusal names its check and details, which
 * say which field to change. What names no field is shown on the review step.
 */
export function mapServerRefusal(body: ApiErrorBody): WizardIssue[] {
  const issue = (pointer: string, message = body.message): WizardIssue => ({
    pointer,
    code: body.code,
    message,
    severity: "error",
  });
  if (body.issues !== undefined && body.issues.length > 0)
    return body.issues.map((item) => ({ ...item, severity: "error" as const }));
  const details = body.details ?? {};
  const check = typeof details.check === "string" ? details.check : undefined;
  switch (check ?? body.code) {
    case "allocation_active":
    case "allocation_in_project":
      return [issue(ALLOCATION_POINTER)];
    case "artifact_launchable":
    case "digest_trusted":
      return [issue(ARTIFACT_POINTER)];
    case "storage_available": {
      const mount = typeof details.mount === "string" ? details.mount : undefined;
      return [
        issue(
          mount === undefined
            ? "/config"
            : `/config/${escapePointerToken(`${mount}${MOUNT_MODE_PARAMETER_SUFFIX}`)}`,
        ),
      ];
    }
    case "exposure_supported":
      return [issue("/config/exposure_mode")];
    case "shape_fits": {
      const requested = (details.requested ?? {}) as Record<string, unknown>;
      const allocation = (details.allocation ?? {}) as Record<string, unknown>;
      const names = RESOURCE_PARAMETERS.filter(
        (name) =>
          typeof requested[name] === "number" &&
          (typeof allocation[name] !== "number" ||
            (requested[name] as number) > (allocation[name] as number)),
      );
      return names.length > 0
        ? names.map((name) => issue(`/resource_overrides/${name}`))
        : [issue("/resource_overrides/gpu_count")];
    }
    case "resource.not_found":
      return details.target_allocation_id !== undefined ? [issue(ALLOCATION_POINTER)] : [issue("")];
    default:
      return [issue("")];
  }
}

/** Review warnings: what the launch costs or holds, the same rules for every app. */
export function listLaunchWarnings(context: WizardContext, state: WizardState): string[] {
  const warnings: string[] = [];
  const allocation = context.allocations.find((candidate) => candidate.id === state.allocationId);
  const resolution = resolveLaunch(context.profile, toSubmission(context, state));
  const launch = resolution.launch;
  for (const issue of resolution.issues)
    if (issue.severity === "warning") warnings.push(issue.message);
  if (launch === undefined) return warnings;
  if (allocation !== undefined) {
    const gpus = allocation.gpu_indices.length;
    if (launch.resources.gpu_count > 0)
      warnings.push(
        `Reserves ${launch.resources.gpu_count} of the allocation's ${gpus} GPU(s) until it is decommissioned.`,
      );
    const share = (used: number, total: number) => total > 0 && used / total >= 0.75;
    if (share(launch.resources.cpu_cores, allocation.cpu_cores))
      warnings.push(
        `Uses ${launch.resources.cpu_cores} of the allocation's ${allocation.cpu_cores} CPU cores; little is left for other workloads.`,
      );
    if (share(launch.resources.memory_gib, allocation.memory_gib))
      warnings.push(
        `Uses ${launch.resources.memory_gib} of the allocation's ${allocation.memory_gib} GiB of memory; little is left for other workloads.`,
      );
  }
  if (launch.python_packages.length > 0)
    warnings.push(
      `${launch.python_packages.length} Python package(s) are installed at every start; the app is ready only once they are installed.`,
    );
  for (const mount of launch.storage)
    if (mount.mode === "project_storage")
      warnings.push(
        `Mount "${mount.name}" uses project storage: its data outlives the instance and stays after decommissioning.`,
      );
  if (launch.endpoints.some((endpoint) => endpoint.managed_ingress))
    warnings.push("Managed ingress gives the app a platform URL reachable by signed-in users.");
  return warnings;
}

/** The parameter behind `python_packages`, re-exported for the pages. */
export { PYTHON_PACKAGES_PARAMETER };
