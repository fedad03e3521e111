/**
 * The API-shaped records the store hands out. Rows never leave the store: `to-api.ts` turns each
 * row into one of these, and the HTTP layer serialises them as they are. Timestamps are ISO 8601
 * strings; a field that can be absent for a lifecycle reason is `null`, while the accelerator and
 * platform fields follow the contract's shapes (omitted when unknown) so a record can be handed to
 * `selectArtifact` unchanged.
 */
import type {
  AcceleratorVendor,
  ArtifactRecord,
  CpuArchitecture,
  Engine,
  GateReport,
  InstanceState,
  StorageMode,
  SupportLevel,
  WorkloadProfile,
} from "@gpuaas/contract";

/** Any JSON value. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** The platform-wide role a user may hold on top of their memberships. */
export const PLATFORM_ROLES = ["platform_operator"] as const;
/** Roles a membership grants on a whole organization. */
export const ORG_ROLES = ["org_admin"] as const;
/** Roles a membership or a service account holds in one project, strongest first. */
export const PROJECT_ROLES = ["project_admin", "project_member", "project_viewer"] as const;
/** States of a registered host: created by an operator, joined by its agent, then live or not. */
export const NODE_STATES = ["pending", "online", "offline", "draining", "retired"] as const;
/** States of an allocation a project holds on a node. */
export const ALLOCATION_STATES = ["active", "releasing", "released"] as const;
/** What the user asked an instance to be; the observed `state` converges to it. */
export const DESIRED_STATES = ["running", "stopped", "decommissioned"] as const;
/** States of a node task in the outbox. */
export const TASK_STATES = ["queued", "leased", "succeeded", "failed"] as const;
/** The node-task catalogue the agent understands (ARCHITECTURE.md, "Node agent protocol"). */
export const TASK_KINDS = [
  "workload.oci_runtime_status",
  "workload.oci_launch",
  "workload.oci_control",
  "workload.oci_remove",
  "workload.compose_launch",
  "workload.compose_control",
  "workload.compose_remove",
] as const;

export type PlatformRole = (typeof PLATFORM_ROLES)[number];
export type OrgRole = (typeof ORG_ROLES)[number];
export type ProjectRole = (typeof PROJECT_ROLES)[number];
export type MembershipRole = OrgRole | ProjectRole;
export type NodeState = (typeof NODE_STATES)[number];
export type AllocationState = (typeof ALLOCATION_STATES)[number];
export type DesiredState = (typeof DESIRED_STATES)[number];
export type TaskState = (typeof TASK_STATES)[number];
export type TaskKind = (typeof TASK_KINDS)[number];

/** A tenant. */
export interface Organization {
  readonly id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly created_at: string;
}

/** A project inside an organization; it owns allocations, instances and service accounts. */
export interface Project {
  readonly id: string;
  readonly org_id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly created_at: string;
}

/** A person who signs in. */
export interface User {
  readonly id: string;
  readonly email: string;
  readonly display_name: string;
  readonly platform_role: PlatformRole | null;
  readonly created_at: string;
}

/** A role a user holds on an organization (`project_id` null) or on one of its projects. */
export interface Membership {
  readonly id: string;
  readonly user_id: string;
  readonly org_id: string;
  readonly project_id: string | null;
  readonly role: MembershipRole;
  readonly created_at: string;
}

/** A project-scoped machine identity. */
export interface ServiceAccount {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly description: string;
  readonly role: ProjectRole;
  readonly created_at: string;
}

/** Who a bearer token acts for. */
export type TokenOwner =
  | { readonly kind: "user"; readonly user_id: string }
  | { readonly kind: "service_account"; readonly service_account_id: string };

/** A bearer token's metadata; the secret itself is shown once, at creation, and never stored. */
export interface ApiToken {
  readonly id: string;
  readonly owner: TokenOwner;
  readonly name: string;
  /** Hex prefix of the token's SHA-256; logs show its first 6 characters as `token:<fp6>`. */
  readonly fingerprint: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly last_used_at: string | null;
}

/** A token just created: the only time its plaintext exists outside the caller's hands. */
export interface CreatedApiToken {
  readonly token: ApiToken;
  readonly plaintext: string;
}

/** The identity a valid bearer token resolves to. */
export type Principal =
  | {
      readonly kind: "user";
      readonly token_id: string;
      readonly fingerprint: string;
      readonly user: User;
    }
  | {
      readonly kind: "service_account";
      readonly token_id: string;
      readonly fingerprint: string;
      readonly service_account: ServiceAccount;
    };

/** An app in the catalog; its metadata follows the latest registered version's profile. */
export interface App {
  readonly id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly description: string;
  readonly support_level: SupportLevel;
  readonly created_at: string;
  readonly updated_at: string;
}

/** One registered version of an app: the manifest as submitted, its normalized profile and gate. */
export interface AppVersion {
  readonly id: string;
  readonly app_id: string;
  readonly app_slug: string;
  readonly version: string;
  readonly manifest: JsonValue;
  readonly profile: WorkloadProfile;
  readonly gate_report: GateReport;
  readonly published: boolean;
  readonly created_at: string;
}

/** Whether a project may launch an app. */
export interface Entitlement {
  readonly project_id: string;
  readonly app_slug: string;
  readonly enabled: boolean;
  readonly updated_at: string;
}

/** A trusted artifact record of an app version (a superset of the contract's `ArtifactRecord`). */
export interface Artifact extends ArtifactRecord {
  readonly app_version_id: string;
  readonly verified_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A GPU host driven by a node agent. */
export interface Node {
  readonly id: string;
  readonly name: string;
  readonly state: NodeState;
  /** Runtime, GPUs, CDI/toolkit state as the agent's last heartbeat reported them. */
  readonly inventory: JsonObject;
  /** True once an agent has redeemed a bootstrap token and holds a node credential. */
  readonly enrolled: boolean;
  readonly last_heartbeat_at: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A one-time node bootstrap token, returned once at creation. */
export interface CreatedBootstrapToken {
  readonly id: string;
  readonly node_id: string;
  readonly plaintext: string;
  readonly expires_at: string;
}

/** What redeeming a bootstrap token gives the agent: its node and a long-lived credential. */
export interface NodeEnrollment {
  readonly node: Node;
  readonly credential: string;
}

/** The share of a node a project holds. */
export interface Allocation {
  readonly id: string;
  readonly project_id: string;
  readonly node_id: string;
  readonly state: AllocationState;
  readonly accelerator: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
  readonly cpu_architecture: CpuArchitecture;
  /** The allocation's device mask: host GPU indices it may use. */
  readonly gpu_indices: readonly number[];
  readonly cpu_cores: number;
  readonly memory_gib: number;
  readonly storage_modes: readonly StorageMode[];
  readonly created_at: string;
  readonly updated_at: string;
  readonly released_at: string | null;
}

/** A launched workload. */
export interface Instance {
  readonly id: string;
  readonly project_id: string;
  readonly app_version_id: string;
  readonly app_slug: string;
  readonly app_version: string;
  readonly target_allocation_id: string;
  readonly display_name: string;
  readonly engine: Engine;
  readonly desired_state: DesiredState;
  /** The observed state, reported through task results and the reconciler. */
  readonly state: InstanceState;
  /** Bumped on every change of what the instance should run; carried by its tasks and labels. */
  readonly generation: number;
  readonly resolved_values: JsonObject;
  readonly artifact_id: string;
  readonly resolved_digest: string;
  /** Host GPU indices this instance claims on its allocation. */
  readonly gpu_indices: readonly number[];
  readonly created_by: string;
  readonly correlation_id: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly state_changed_at: string;
}

/** One running unit of an instance (a container) and how to reach it. */
export interface InstanceMember {
  readonly id: string;
  readonly instance_id: string;
  readonly name: string;
  readonly node_id: string;
  readonly container_id: string | null;
  readonly host_port: number | null;
  readonly endpoint_url: string | null;
  readonly created_at: string;
  readonly updated_at: string;
}

/** A unit of work for a node agent, written to the outbox and leased by the agent. */
export interface NodeTask {
  readonly id: string;
  readonly node_id: string;
  readonly instance_id: string | null;
  readonly kind: TaskKind;
  readonly spec: JsonObject;
  readonly state: TaskState;
  readonly lease_owner: string | null;
  readonly lease_expires_at: string | null;
  /** How many times the task was leased; above 1 it was redelivered. */
  readonly attempts: number;
  readonly result: JsonValue | null;
  readonly correlation_id: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly completed_at: string | null;
}

/** Something that happened to an instance or a project, in order. */
export interface StoreEvent {
  /** Monotonic; also the cursor to read on from. */
  readonly id: string;
  readonly project_id: string;
  readonly instance_id: string | null;
  readonly type: string;
  readonly message: string;
  readonly data: JsonObject;
  readonly correlation_id: string;
  readonly created_at: string;
}

/** Who did what to which resource. */
export interface AuditEntry {
  readonly id: string;
  /** `user:<id>`, `service_account:<id>`, `node:<id>` or `system`. */
  readonly actor: string;
  readonly action: string;
  /** `<kind>:<id>` of the resource acted on. */
  readonly target: string;
  readonly project_id: string | null;
  readonly correlation_id: string;
  readonly data: JsonObject;
  readonly created_at: string;
}

/** A page of a list read with a cursor; `next_cursor` is null on the last page. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next_cursor: string | null;
}
