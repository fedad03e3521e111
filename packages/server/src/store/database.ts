/**
 * Row types of the schema `migrations/` creates, for Kysely. These types stay inside the store:
 * callers get the API shapes of `types.ts`, built by `to-api.ts`.
 */
import type {
  AcceleratorVendor,
  ArtifactState,
  CpuArchitecture,
  Engine,
  GateReport,
  InstanceState,
  MediaType,
  StorageMode,
  SupportLevel,
  WorkloadProfile,
} from "@gpuaas/contract";
import type { ColumnType, Kysely } from "kysely";
import type {
  AllocationState,
  DesiredState,
  JsonObject,
  JsonValue,
  MembershipRole,
  NodeState,
  PlatformRole,
  ProjectRole,
  TaskKind,
  TaskState,
} from "./types.js";

/** Set by the database on insert, never updated. */
type CreatedAt = ColumnType<Date, Date | undefined, never>;
/** Set on insert, updated by the store. */
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;
type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
/** jsonb: written as JSON text (so arrays are not mistaken for SQL arrays), read back parsed. */
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;
/** bigserial: node-postgres reads int8 as a string, PGlite as a number. */
type BigSerial = ColumnType<string | number, never, never>;
type IntArray = ColumnType<number[], readonly number[], readonly number[]>;
type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

interface OrganizationsTable {
  id: string;
  slug: string;
  display_name: string;
  created_at: CreatedAt;
}

interface ProjectsTable {
  id: string;
  org_id: string;
  slug: string;
  display_name: string;
  created_at: CreatedAt;
}

interface UsersTable {
  id: string;
  email: string;
  display_name: string;
  platform_role: Nullable<PlatformRole>;
  created_at: CreatedAt;
}

interface MembershipsTable {
  id: string;
  user_id: string;
  org_id: string;
  project_id: Nullable<string>;
  role: MembershipRole;
  created_at: CreatedAt;
}

interface ServiceAccountsTable {
  id: string;
  project_id: string;
  name: string;
  description: string;
  role: ProjectRole;
  created_at: CreatedAt;
}

interface ApiTokensTable {
  id: string;
  user_id: Nullable<string>;
  service_account_id: Nullable<string>;
  name: string;
  token_hash: string;
  fingerprint: string;
  created_at: CreatedAt;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

interface AppCatalogTable {
  id: string;
  slug: string;
  display_name: string;
  description: string;
  support_level: SupportLevel;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

interface AppVersionsTable {
  id: string;
  app_id: string;
  version: string;
  manifest: Json<JsonValue>;
  profile: Json<WorkloadProfile>;
  gate_report: Json<GateReport>;
  published: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: CreatedAt;
}

interface ProjectEntitlementsTable {
  project_id: string;
  app_slug: string;
  enabled: boolean;
  updated_at: UpdatedAt;
}

interface AppArtifactsTable {
  id: string;
  app_version_id: string;
  artifact_name: string;
  repository: string;
  digest: string;
  media_type: MediaType;
  platform_os: Nullable<string>;
  platform_architecture: Nullable<CpuArchitecture>;
  accelerator_vendor: Nullable<AcceleratorVendor>;
  accelerator_family: Nullable<string>;
  accelerator_sku: Nullable<string>;
  state: ColumnType<ArtifactState, ArtifactState | undefined, ArtifactState>;
  verified_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

interface NodesTable {
  id: string;
  name: string;
  state: ColumnType<NodeState, NodeState | undefined, NodeState>;
  inventory: Json<JsonObject>;
  credential_hash: Nullable<string>;
  last_heartbeat_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

interface NodeBootstrapTokensTable {
  id: string;
  node_id: string;
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: CreatedAt;
}

interface AllocationsTable {
  id: string;
  project_id: string;
  node_id: string;
  state: ColumnType<AllocationState, AllocationState | undefined, AllocationState>;
  accelerator_vendor: AcceleratorVendor;
  accelerator_family: Nullable<string>;
  accelerator_sku: Nullable<string>;
  cpu_architecture: CpuArchitecture;
  gpu_indices: IntArray;
  cpu_cores: number;
  memory_gib: number;
  storage_modes: ColumnType<StorageMode[], readonly StorageMode[], readonly StorageMode[]>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  released_at: NullableTimestamp;
}

interface AppInstancesTable {
  id: string;
  project_id: string;
  app_version_id: string;
  target_allocation_id: string;
  display_name: string;
  engine: Engine;
  desired_state: DesiredState;
  state: InstanceState;
  generation: ColumnType<number, number | undefined, number>;
  resolved_values: Json<JsonObject>;
  artifact_id: string;
  resolved_digest: string;
  gpu_indices: IntArray;
  created_by: string;
  correlation_id: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  state_changed_at: UpdatedAt;
}

interface AppInstanceMembersTable {
  id: string;
  instance_id: string;
  name: string;
  node_id: string;
  container_id: Nullable<string>;
  host_port: Nullable<number>;
  endpoint_url: Nullable<string>;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

interface NodeTasksTable {
  id: string;
  /** Delivery order within a node's queue. */
  seq: BigSerial;
  node_id: string;
  instance_id: Nullable<string>;
  kind: TaskKind;
  spec: Json<JsonObject>;
  state: ColumnType<TaskState, TaskState | undefined, TaskState>;
  lease_owner: Nullable<string>;
  lease_expires_at: NullableTimestamp;
  attempts: ColumnType<number, number | undefined, number>;
  result: NullableJson<JsonValue>;
  correlation_id: string;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
  completed_at: NullableTimestamp;
}

interface EventsTable {
  id: BigSerial;
  project_id: string;
  instance_id: Nullable<string>;
  type: string;
  message: string;
  data: Json<JsonObject>;
  correlation_id: string;
  created_at: CreatedAt;
}

interface AuditLogTable {
  id: BigSerial;
  actor: string;
  action: string;
  target: string;
  project_id: Nullable<string>;
  correlation_id: string;
  data: Json<JsonObject>;
  created_at: CreatedAt;
}

interface IdempotencyKeysTable {
  project_id: string;
  key: string;
  request_hash: string;
  /** Null only inside the transaction that claimed the key; committed rows always have both. */
  response_status: Nullable<number>;
  response_body: NullableJson<JsonValue>;
  created_at: CreatedAt;
}

/** Every table of the store. */
export interface Database {
  organizations: OrganizationsTable;
  projects: ProjectsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  service_accounts: ServiceAccountsTable;
  api_tokens: ApiTokensTable;
  app_catalog: AppCatalogTable;
  app_versions: AppVersionsTable;
  project_entitlements: ProjectEntitlementsTable;
  app_artifacts: AppArtifactsTable;
  nodes: NodesTable;
  node_bootstrap_tokens: NodeBootstrapTokensTable;
  allocations: AllocationsTable;
  app_instances: AppInstancesTable;
  app_instance_members: AppInstanceMembersTable;
  node_tasks: NodeTasksTable;
  events: EventsTable;
  audit_log: AuditLogTable;
  idempotency_keys: IdempotencyKeysTable;
}

/** A handle every store function takes: the store's Kysely instance or an open transaction. */
export type StoreDb = Kysely<Database>;
