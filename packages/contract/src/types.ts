/**
 * Types of the normalized launchable OCI workload profile (schema v1, endpoint shape v1.1).
 *
 * A manifest an author writes may still use the legacy endpoint fields; {@link validateProfile}
 * turns it into this one shape, and everything downstream (API, agent, CLI, wizard) reads only
 * this shape.
 */

/** The manifest `kind` every profile carries. */
export const PROFILE_KIND = "gpuaas.launchable_oci_workload";

/** Closed enums of the contract. The schema and the types are both built from these lists. */
export const SCHEMA_VERSIONS = ["v1"] as const;
export const SUPPORT_LEVELS = [
  "platform_curated",
  "partner_supported",
  "community",
  "experimental",
] as const;
export const LAUNCH_MODES = ["existing_allocation"] as const;
export const ARTIFACT_SOURCES = ["platform_registry"] as const;
export const MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
] as const;
export const ACCELERATOR_VENDORS = ["none", "nvidia", "amd", "intel"] as const;
export const CPU_ARCHITECTURES = ["amd64", "arm64"] as const;
export const WIZARD_COMPONENT_KINDS = [
  "platform.target_allocation",
  "platform.artifact_selector",
  "platform.access_credential",
  "platform.operator_service_account",
  "platform.review",
  "field",
] as const;
export const GPU_PLACEMENTS = ["allocation_local"] as const;
export const STORAGE_MODES = ["scratch", "project_storage"] as const;
export const ENDPOINT_TYPES = [
  "http",
  "tcp",
  "ssh",
  "kubernetes",
  "mcp",
  "job_submission",
] as const;
export const AUTH_PATTERNS = [
  "oidc_native",
  "header_injected_jwt",
  "per_connection_credential",
  "mtls_user_cert",
  "per_user_instance",
] as const;
export const ROUTE_MODES = ["host", "platform_path_compat"] as const;
export const CLIENT_AUTH_MODES = ["browser_oidc", "api_bearer"] as const;
export const ROUTE_FAMILIES = ["browser_app", "api_app", "platform_admin", "terminal_ws"] as const;
/** Route families only the platform may use; app manifests are refused when they name one. */
export const RESERVED_ROUTE_FAMILIES = ["platform_admin", "terminal_ws"] as const;
export const EXPOSURE_MODES = ["private", "managed_ingress"] as const;
export const LEGACY_PROTOCOLS = ["http", "tcp"] as const;
export const LEGACY_EXPOSURE_MODES = ["private", "platform_proxy"] as const;
export const ENGINES = ["node_agent", "docker_compose", "kubernetes", "helm", "dstack"] as const;
export const ADAPTER_STATUSES = ["active", "future", "deprecated"] as const;
export const READINESS_TYPES = ["http", "tcp"] as const;
export const SMOKE_TYPES = ["adapter_status", "http"] as const;
export const INSTANCE_STATES = [
  "pending",
  "deploying",
  "running",
  "failed",
  "stopping",
  "stopped",
  "starting",
  "restarting",
  "decommissioning",
  "decommissioned",
  "unknown",
] as const;
export const ARTIFACT_STATES = ["pending", "verified", "published", "promoted", "retired"] as const;

export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];
export type SupportLevel = (typeof SUPPORT_LEVELS)[number];
export type LaunchMode = (typeof LAUNCH_MODES)[number];
export type MediaType = (typeof MEDIA_TYPES)[number];
export type AcceleratorVendor = (typeof ACCELERATOR_VENDORS)[number];
export type CpuArchitecture = (typeof CPU_ARCHITECTURES)[number];
export type WizardComponentKind = (typeof WIZARD_COMPONENT_KINDS)[number];
export type StorageMode = (typeof STORAGE_MODES)[number];
export type EndpointType = (typeof ENDPOINT_TYPES)[number];
export type AuthPattern = (typeof AUTH_PATTERNS)[number];
export type RouteMode = (typeof ROUTE_MODES)[number];
export type ClientAuthMode = (typeof CLIENT_AUTH_MODES)[number];
export type RouteFamily = (typeof ROUTE_FAMILIES)[number];
export type ExposureMode = (typeof EXPOSURE_MODES)[number];
export type Engine = (typeof ENGINES)[number];
export type AdapterStatus = (typeof ADAPTER_STATUSES)[number];
export type InstanceState = (typeof INSTANCE_STATES)[number];
export type ArtifactState = (typeof ARTIFACT_STATES)[number];

/**
 * Parameter names whose meaning the platform defines. A profile may declare any of them; when it
 * does, the platform gives them the same meaning for every app (never a branch on the app slug).
 */
export const RESOURCE_PARAMETERS = ["gpu_count", "cpu_cores", "memory_gib"] as const;
export type ResourceParameter = (typeof RESOURCE_PARAMETERS)[number];
/** The parameter holding a whitespace-separated list of pip requirement specifiers. */
export const PYTHON_PACKAGES_PARAMETER = "python_packages";
/** The parameter choosing the loopback host port of the first endpoint. */
export const HOST_PORT_PARAMETER = "host_port";
/** The parameter choosing how endpoints are exposed (`private`, `managed_ingress`). */
export const EXPOSURE_MODE_PARAMETER = "exposure_mode";
/** A mount named `workspace` takes its mode from the parameter `workspace_mount`. */
export const MOUNT_MODE_PARAMETER_SUFFIX = "_mount";

export interface ProfileMetadata {
  readonly kind: typeof PROFILE_KIND;
  readonly schema_version: SchemaVersion;
  readonly slug: string;
  readonly display_name: string;
  readonly description: string;
  readonly support_level: SupportLevel;
  readonly launch_mode: LaunchMode;
}

/** Which allocations an artifact variant is built for. */
export interface AcceleratorSelector {
  readonly vendor: AcceleratorVendor;
  readonly family?: string;
  readonly skus?: readonly string[];
}

export interface ArtifactVariant {
  readonly source: (typeof ARTIFACT_SOURCES)[number];
  readonly artifact_name: string;
  readonly digest_required: boolean;
  readonly media_type: MediaType;
  /** A digest the author pins; the platform's verified artifact records remain the authority. */
  readonly digest?: string;
  readonly accelerator?: AcceleratorSelector;
  readonly cpu_architectures?: readonly CpuArchitecture[];
}

/** The subset of JSON Schema a parameter may use, so that every parameter can be rendered. */
export interface ParameterSchema {
  readonly type: "string" | "integer" | "number" | "boolean" | "array";
  readonly title?: string;
  readonly description?: string;
  readonly enum?: readonly (string | number)[];
  readonly default?: unknown;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly examples?: readonly unknown[];
  readonly items?: {
    readonly type: "string" | "integer" | "number";
    readonly enum?: readonly (string | number)[];
  };
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
}

export interface ParametersObjectSchema {
  readonly type: "object";
  readonly required?: readonly string[];
  readonly properties: Readonly<Record<string, ParameterSchema>>;
}

export interface UiGroup {
  readonly id: string;
  readonly title: string;
  readonly fields: readonly string[];
}

export interface WizardComponent {
  readonly kind: WizardComponentKind;
  readonly name?: string;
  readonly required?: boolean;
}

export interface WizardStep {
  readonly id: string;
  readonly title: string;
  readonly description?: string;
  readonly components: readonly WizardComponent[];
}

export interface ParametersUi {
  readonly order?: readonly string[];
  readonly groups?: readonly UiGroup[];
  readonly launch_wizard: { readonly steps: readonly WizardStep[] };
}

export interface Resources {
  readonly gpu: {
    readonly min_count: number;
    readonly default_count?: number;
    readonly max_count?: number;
    readonly placement: (typeof GPU_PLACEMENTS)[number];
  };
  readonly cpu: { readonly min_cores: number; readonly max_cores?: number };
  readonly memory: { readonly min_gib: number; readonly max_gib?: number };
}

export interface StorageMount {
  readonly name: string;
  readonly path: string;
  readonly required: boolean;
  readonly modes: readonly StorageMode[];
}

export interface ManagedIngress {
  readonly enabled: boolean;
  readonly route_mode: RouteMode;
  readonly default_open_path: string;
  readonly websocket_required: boolean;
  readonly client_auth_mode: ClientAuthMode;
  readonly route_family: RouteFamily;
  /** Longest a single request may take at the edge, in seconds (long generations need more). */
  readonly request_timeout_seconds?: number;
  /** Longest an idle connection (e.g. a websocket) is kept, in seconds. */
  readonly idle_timeout_seconds?: number;
}

/** One endpoint in the normalized (v1.1) shape. */
export interface Endpoint {
  readonly name: string;
  readonly port: number;
  readonly type: EndpointType;
  readonly auth_pattern: AuthPattern;
  readonly managed_ingress: ManagedIngress;
}

export interface SupportedEngine {
  readonly engine: Engine;
  readonly adapter: string;
  readonly status: AdapterStatus;
}

export interface ComposeTopologyService {
  readonly name: string;
  readonly role: string;
  readonly endpoints?: readonly string[];
  readonly mounts?: readonly string[];
}

export interface Execution {
  readonly default_engine: Engine;
  readonly supported_engines: readonly SupportedEngine[];
  readonly container_env?: Readonly<Record<string, string>>;
  readonly command_args?: readonly string[];
  readonly working_dir?: string;
  readonly user?: string;
  readonly compose?: {
    readonly renderer: string;
    readonly topology?: {
      readonly description?: string;
      readonly services: readonly ComposeTopologyService[];
    };
  };
}

export interface Outputs {
  readonly endpoints?: readonly { readonly name: string; readonly source: string }[];
  readonly commands?: readonly { readonly name: string; readonly command: string }[];
}

export interface ReadinessProbe {
  readonly name: string;
  readonly type: (typeof READINESS_TYPES)[number];
  readonly endpoint: string;
  readonly path?: string;
  readonly expect_status?: readonly number[];
  readonly timeout_seconds?: number;
  readonly interval_seconds?: number;
}

export interface SmokeCheck {
  readonly name: string;
  readonly type: (typeof SMOKE_TYPES)[number];
  readonly status?: InstanceState;
  readonly endpoint?: string;
  readonly path?: string;
}

export interface Security {
  readonly privileged?: boolean;
  readonly host_mounts?: readonly {
    readonly host_path: string;
    readonly path: string;
    readonly read_only?: boolean;
  }[];
  readonly approval?: { readonly approved_by: string; readonly reference: string };
}

/** A validated, normalized workload profile. Only {@link validateProfile} produces one. */
export interface WorkloadProfile {
  readonly profile: ProfileMetadata;
  readonly artifacts: Readonly<Record<string, ArtifactVariant>>;
  readonly parameters: { readonly schema: ParametersObjectSchema; readonly ui: ParametersUi };
  readonly resources: Resources;
  readonly storage: { readonly mounts: readonly StorageMount[] };
  readonly network: { readonly endpoints: readonly Endpoint[] };
  readonly execution: Execution;
  readonly outputs: Outputs;
  readonly validation: {
    readonly readiness: readonly ReadinessProbe[];
    readonly smoke: readonly SmokeCheck[];
  };
  readonly security: Security;
}
