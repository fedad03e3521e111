import {
  createIssue,
  escapePointerToken,
  hasErrors,
  type Issue,
  type IssueCode,
} from "./issues.js";
import { type CompiledSchema, createSchemaCompiler, toIssues } from "./json-schema.js";
import { findDocumentLimitBreach, isRecord, type Loose, own } from "./loose.js";
import { MAX_PYTHON_PACKAGES, parsePythonPackages } from "./pip-requirements.js";
import {
  EXPOSURE_MODE_PARAMETER,
  type ExposureMode,
  HOST_PORT_PARAMETER,
  MOUNT_MODE_PARAMETER_SUFFIX,
  PYTHON_PACKAGES_PARAMETER,
  RESOURCE_PARAMETERS,
  type ResourceParameter,
  type StorageMode,
  type WorkloadProfile,
} from "./types.js";

/** The launch request a user, the CLI or the wizard submits (seed: "Launch Request Values"). */
export interface LaunchRequest {
  readonly app_slug: string;
  readonly app_version: string;
  readonly display_name?: string;
  readonly placement_intent: { readonly target_allocation_id: string };
  /** The artifact record the user picked in `platform.artifact_selector`; the platform picks when absent. */
  readonly artifact_id?: string;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly resource_overrides?: Readonly<Partial<Record<ResourceParameter, number>>>;
}

/** One storage mount with the mode the launch chose for it. */
export interface ResolvedMount {
  readonly name: string;
  readonly path: string;
  readonly mode: StorageMode;
}

/** One endpoint with the exposure the launch chose for it. */
export interface ResolvedEndpoint {
  readonly name: string;
  readonly port: number;
  /** Loopback host port the container port is published on, when the profile lets the user pick. */
  readonly host_port?: number;
  /** True when the platform should create a managed-ingress route for this endpoint. */
  readonly managed_ingress: boolean;
}

/** Typed, defaulted and validated launch values, the input of every execution adapter. */
export interface ResolvedLaunch {
  readonly app_slug: string;
  readonly app_version: string;
  readonly display_name: string;
  readonly target_allocation_id: string;
  readonly artifact_id?: string;
  /** Every declared non-resource parameter that has a value, defaults applied. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly resources: Readonly<Record<ResourceParameter, number>>;
  readonly exposure_mode: ExposureMode;
  readonly storage: readonly ResolvedMount[];
  readonly endpoints: readonly ResolvedEndpoint[];
  readonly python_packages: readonly string[];
}

/** What {@link resolveLaunch} found: typed values, or every issue. */
export interface LaunchResolution {
  readonly ok: boolean;
  readonly issues: readonly Issue[];
  readonly launch: ResolvedLaunch | undefined;
}

const REQUEST_KEYS = [
  "app_slug",
  "app_version",
  "display_name",
  "placement_intent",
  "artifact_id",
  "config",
  "resource_overrides",
] as const;
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

const compileConfigSchema = createSchemaCompiler(256);
const configValidators = new WeakMap<WorkloadProfile, CompiledSchema>();

function configValidator(profile: WorkloadProfile): CompiledSchema {
  const validate = configValidators.get(profile);
  if (validate === undefined) {
    const properties: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(profile.parameters.schema.properties)) {
      if (!isResourceParameter(name)) properties[name] = schema;
    }
    const required = (profile.parameters.schema.required ?? []).filter(
      (name) => !isResourceParameter(name),
    );
    const compiled = compileConfigSchema({
      type: "object",
      additionalProperties: false,
      required,
      properties,
    });
    configValidators.set(profile, compiled);
    return compiled;
  }
  return validate;
}

function isResourceParameter(name: string): name is ResourceParameter {
  return (RESOURCE_PARAMETERS as readonly string[]).includes(name);
}

/**
 * Resolves a launch request against a validated profile: applies defaults, validates `config`
 * against `parameters.schema` and `resource_overrides` against the parameter bounds and the
 * profile's resource minimums and maximums, refuses unknown keys, checks Python package lists,
 * and returns typed values or every issue. The API, the CLI and the web wizard all call it, so
 * they can never disagree. It never throws.
 *
 * @example
 * const { ok, launch, issues } = resolveLaunch(profile, body);
 */
export function resolveLaunch(profile: WorkloadProfile, request: unknown): LaunchResolution {
  if (!isRecord(request))
    return failed([createIssue("", "launch.request_invalid", "a launch request is a JSON object")]);
  const breach = findDocumentLimitBreach(request);
  if (breach !== undefined) {
    return failed([
      createIssue(
        "",
        "launch.request_invalid",
        breach === "not_json"
          ? "the launch request holds a value JSON cannot represent"
          : "the launch request is too large or too deeply nested",
      ),
    ]);
  }
  const issues: Issue[] = [];
  for (const key of Object.keys(request)) {
    if (!(REQUEST_KEYS as readonly string[]).includes(key)) {
      issues.push(
        createIssue(
          `/${escapePointerToken(key)}`,
          "launch.unknown_key",
          `unknown key "${key}"; allowed: ${REQUEST_KEYS.join(", ")}`,
        ),
      );
    }
  }
  const appSlug = readString(request, "app_slug", issues);
  if (appSlug !== undefined && appSlug !== profile.profile.slug) {
    issues.push(
      createIssue(
        "/app_slug",
        "launch.app_mismatch",
        `app_slug "${appSlug}" does not name this profile ("${profile.profile.slug}")`,
      ),
    );
  }
  const appVersion = readString(request, "app_version", issues);
  if (appVersion !== undefined && !VERSION.test(appVersion)) {
    issues.push(
      createIssue("/app_version", "launch.type", "app_version is 1 to 64 letters, digits, . _ + -"),
    );
  }
  const displayName = readDisplayName(request, profile, issues);
  const allocationId = readAllocation(request, issues);
  const artifactId = readArtifactId(request, issues);
  const config = readObject(request, "config", issues);
  const overrides = readObject(request, "resource_overrides", issues);
  const values =
    config === undefined
      ? undefined
      : resolveConfig(profile, config, Object.hasOwn(request, "config"), issues);
  const resources =
    overrides === undefined ? undefined : resolveResources(profile, overrides, issues);
  const packages = values === undefined ? [] : resolvePackages(values, issues);
  const storage = values === undefined ? [] : resolveStorage(profile, values, issues);
  if (hasErrors(issues) || values === undefined || resources === undefined) return failed(issues);
  const exposure = (
    typeof values[EXPOSURE_MODE_PARAMETER] === "string"
      ? values[EXPOSURE_MODE_PARAMETER]
      : "private"
  ) as ExposureMode;
  const hasExposureChoice = Object.hasOwn(
    profile.parameters.schema.properties,
    EXPOSURE_MODE_PARAMETER,
  );
  const hostPort =
    typeof values[HOST_PORT_PARAMETER] === "number" ? values[HOST_PORT_PARAMETER] : undefined;
  const endpoints = profile.network.endpoints.map(
    (endpoint, index): ResolvedEndpoint => ({
      name: endpoint.name,
      port: endpoint.port,
      ...(index === 0 && hostPort !== undefined ? { host_port: hostPort } : {}),
      managed_ingress:
        endpoint.managed_ingress.enabled && (!hasExposureChoice || exposure === "managed_ingress"),
    }),
  );
  return {
    ok: true,
    issues,
    launch: {
      app_slug: appSlug ?? profile.profile.slug,
      app_version: appVersion ?? "",
      display_name: displayName,
      target_allocation_id: allocationId ?? "",
      ...(artifactId !== undefined ? { artifact_id: artifactId } : {}),
      config: values,
      resources,
      exposure_mode: hasExposureChoice
        ? exposure
        : endpoints.some((e) => e.managed_ingress)
          ? "managed_ingress"
          : "private",
      storage,
      endpoints,
      python_packages: packages,
    },
  };
}

function failed(issues: readonly Issue[]): LaunchResolution {
  return { ok: false, issues, launch: undefined };
}

function readString(request: Loose, key: string, issues: Issue[]): string | undefined {
  const value = own(request, key);
  if (value === undefined) {
    issues.push(createIssue(`/${key}`, "launch.missing", `"${key}" is required`));
    return undefined;
  }
  if (typeof value !== "string" || value.length === 0) {
    issues.push(createIssue(`/${key}`, "launch.type", `"${key}" must be a non-empty string`));
    return undefined;
  }
  return value;
}

function readDisplayName(request: Loose, profile: WorkloadProfile, issues: Issue[]): string {
  const value = own(request, "display_name");
  if (value === undefined) return profile.profile.display_name;
  if (
    typeof value !== "string" ||
    value.trim().length === 0 ||
    value.length > 128 ||
    CONTROL.test(value)
  ) {
    issues.push(
      createIssue(
        "/display_name",
        "launch.display_name_invalid",
        "display_name is 1 to 128 printable characters",
      ),
    );
    return profile.profile.display_name;
  }
  return value.trim();
}

function readAllocation(request: Loose, issues: Issue[]): string | undefined {
  const placement = own(request, "placement_intent");
  if (placement === undefined) {
    issues.push(
      createIssue(
        "/placement_intent",
        "launch.missing",
        "placement_intent.target_allocation_id names the allocation to launch on",
      ),
    );
    return undefined;
  }
  if (!isRecord(placement)) {
    issues.push(
      createIssue("/placement_intent", "launch.type", "placement_intent must be an object"),
    );
    return undefined;
  }
  for (const key of Object.keys(placement)) {
    if (key !== "target_allocation_id") {
      issues.push(
        createIssue(
          `/placement_intent/${escapePointerToken(key)}`,
          "launch.unknown_key",
          `unknown key "${key}"; placement_intent holds target_allocation_id`,
        ),
      );
    }
  }
  const id = own(placement, "target_allocation_id");
  if (id === undefined) {
    issues.push(
      createIssue(
        "/placement_intent/target_allocation_id",
        "launch.missing",
        "target_allocation_id is required",
      ),
    );
    return undefined;
  }
  if (typeof id !== "string" || !ID.test(id)) {
    issues.push(
      createIssue(
        "/placement_intent/target_allocation_id",
        "launch.allocation_id_invalid",
        "target_allocation_id must be an allocation id",
      ),
    );
    return undefined;
  }
  return id;
}

function readArtifactId(request: Loose, issues: Issue[]): string | undefined {
  const id = own(request, "artifact_id");
  if (id === undefined) return undefined;
  if (typeof id !== "string" || !ID.test(id)) {
    issues.push(createIssue("/artifact_id", "launch.type", "artifact_id must be an artifact id"));
    return undefined;
  }
  return id;
}

function readObject(request: Loose, key: string, issues: Issue[]): Loose | undefined {
  const value = own(request, key);
  if (value === undefined) return {};
  if (!isRecord(value)) {
    issues.push(createIssue(`/${key}`, "launch.type", `"${key}" must be an object`));
    return undefined;
  }
  return value;
}

/** Config values with defaults applied; reports every problem and returns what it could read. */
function resolveConfig(
  profile: WorkloadProfile,
  config: Loose,
  hasConfig: boolean,
  issues: Issue[],
): Record<string, unknown> {
  const properties = profile.parameters.schema.properties;
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(properties)) {
    if (!isResourceParameter(name) && schema.default !== undefined) values[name] = schema.default;
  }
  for (const [name, value] of Object.entries(config)) {
    const pointer = `/config/${escapePointerToken(name)}`;
    if (isResourceParameter(name)) {
      issues.push(
        createIssue(
          pointer,
          "launch.config.resource_in_config",
          `set ${name} in resource_overrides, not in config`,
        ),
      );
    } else if (!Object.hasOwn(properties, name)) {
      issues.push(
        createIssue(
          pointer,
          "launch.config.unknown_key",
          `"${name}" is not a parameter of this profile`,
        ),
      );
    } else {
      values[name] = value;
    }
  }
  const validate = configValidator(profile);
  if (!validate(values)) {
    const codes = (keyword: string): IssueCode =>
      keyword === "required" ? "launch.config.required" : "launch.config.invalid";
    for (const issue of toIssues(validate.errors, "/config", codes)) {
      if (issue.code !== "launch.config.required") {
        issues.push(issue);
        continue;
      }
      // A request without `config` is told so at /config, a pointer into what it sent; one with
      // `config` is told at the missing parameter, where a form shows it.
      const name = issue.pointer
        .slice("/config/".length)
        .replaceAll("~1", "/")
        .replaceAll("~0", "~");
      issues.push(
        createIssue(
          hasConfig ? issue.pointer : "/config",
          "launch.config.required",
          `"${name}" is required and has no default; set config.${name}`,
        ),
      );
    }
  }
  return values;
}

function resolveResources(
  profile: WorkloadProfile,
  overrides: Loose,
  issues: Issue[],
): Record<ResourceParameter, number> | undefined {
  const { gpu, cpu, memory } = profile.resources;
  const properties = profile.parameters.schema.properties;
  // Without an override or a parameter default, a launch gets gpu.default_count, or else the
  // smallest value both the resources section and the parameter accept.
  const bounds: Record<
    ResourceParameter,
    { min: number; max: number | undefined; fallback: number | undefined }
  > = {
    gpu_count: { min: gpu.min_count, max: gpu.max_count, fallback: gpu.default_count },
    cpu_cores: { min: cpu.min_cores, max: cpu.max_cores, fallback: undefined },
    memory_gib: { min: memory.min_gib, max: memory.max_gib, fallback: undefined },
  };
  let clean = true;
  for (const key of Object.keys(overrides)) {
    if (!isResourceParameter(key)) {
      issues.push(
        createIssue(
          `/resource_overrides/${escapePointerToken(key)}`,
          "launch.resources.unknown_key",
          `unknown resource "${key}"; use ${RESOURCE_PARAMETERS.join(", ")}`,
        ),
      );
      clean = false;
    }
  }
  const resolved = {} as Record<ResourceParameter, number>;
  for (const name of RESOURCE_PARAMETERS) {
    const pointer = `/resource_overrides/${name}`;
    const parameter = properties[name];
    const parameterDefault = typeof parameter?.default === "number" ? parameter.default : undefined;
    const min = Math.ceil(Math.max(bounds[name].min, parameter?.minimum ?? 0));
    const value = Object.hasOwn(overrides, name)
      ? overrides[name]
      : (parameterDefault ?? bounds[name].fallback ?? min);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      issues.push(
        createIssue(
          pointer,
          "launch.resources.invalid",
          `${name} must be a whole number, 0 or more`,
        ),
      );
      clean = false;
      continue;
    }
    const maxima = [bounds[name].max, parameter?.maximum].filter(
      (limit): limit is number => limit !== undefined,
    );
    const max = maxima.length > 0 ? Math.min(...maxima) : undefined;
    if (value < min) {
      issues.push(
        createIssue(
          pointer,
          "launch.resources.below_minimum",
          `${name} ${value} is below this profile's minimum of ${min}`,
        ),
      );
      clean = false;
    } else if (max !== undefined && value > max) {
      issues.push(
        createIssue(
          pointer,
          "launch.resources.above_maximum",
          `${name} ${value} is above this profile's maximum of ${max}`,
        ),
      );
      clean = false;
    }
    resolved[name] = value;
  }
  return clean ? resolved : undefined;
}

function resolvePackages(values: Readonly<Record<string, unknown>>, issues: Issue[]): string[] {
  const value = values[PYTHON_PACKAGES_PARAMETER];
  if (typeof value !== "string") return [];
  const pointer = `/config/${PYTHON_PACKAGES_PARAMETER}`;
  const { packages, problems } = parsePythonPackages(value);
  for (const problem of problems) {
    issues.push(
      createIssue(
        pointer,
        "launch.packages.invalid",
        `entry ${problem.index + 1} "${problem.token}": ${problem.reason}`,
      ),
    );
  }
  if (packages.length > MAX_PYTHON_PACKAGES) {
    issues.push(
      createIssue(
        pointer,
        "launch.packages.too_many",
        `at most ${MAX_PYTHON_PACKAGES} packages, got ${packages.length}`,
      ),
    );
    return [];
  }
  return [...packages];
}

function resolveStorage(
  profile: WorkloadProfile,
  values: Readonly<Record<string, unknown>>,
  issues: Issue[],
): ResolvedMount[] {
  return profile.storage.mounts.map((mount) => {
    const parameter = `${mount.name}${MOUNT_MODE_PARAMETER_SUFFIX}`;
    const chosen = values[parameter];
    const fallback = mount.modes[0] ?? "scratch";
    if (chosen === undefined) return { name: mount.name, path: mount.path, mode: fallback };
    if (!(mount.modes as readonly unknown[]).includes(chosen)) {
      // A parameter with an enum was already refused by the schema (its enum is a subset of the
      // mount's modes, which validateProfile enforces); report only what the schema cannot know.
      if (profile.parameters.schema.properties[parameter]?.enum !== undefined) {
        return { name: mount.name, path: mount.path, mode: fallback };
      }
      issues.push(
        createIssue(
          `/config/${escapePointerToken(parameter)}`,
          "launch.storage.mode_not_allowed",
          `mount "${mount.name}" allows ${mount.modes.join(", ")}, not ${JSON.stringify(chosen)}`,
        ),
      );
      return { name: mount.name, path: mount.path, mode: fallback };
    }
    return { name: mount.name, path: mount.path, mode: chosen as StorageMode };
  });
}
