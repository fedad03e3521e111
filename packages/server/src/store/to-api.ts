/**
 * The one place rows become API records. Every store function returns what these build, so the
 * schema can change without the API changing, and no row (with its hashes) leaves the store.
 */
import type { Selectable } from "kysely";
import type { Database } from "./database.js";
import type {
  Allocation,
  ApiToken,
  App,
  AppVersion,
  Artifact,
  AuditEntry,
  Entitlement,
  Instance,
  InstanceMember,
  Membership,
  Node,
  NodeTask,
  Organization,
  Project,
  ServiceAccount,
  StoreEvent,
  User,
} from "./types.js";

type Row<T extends keyof Database> = Selectable<Database[T]>;

/** An app version row with its app's slug. */
export type AppVersionRow = Row<"app_versions"> & { readonly app_slug: string };
/** An instance row with its app version's slug and version. */
export type InstanceRow = Row<"app_instances"> & {
  readonly app_slug: string;
  readonly app_version: string;
};

/** An ISO 8601 timestamp of a row's date. */
export function iso(value: Date): string {
  return value.toISOString();
}

function isoOrNull(value: Date | null): string | null {
  return value === null ? null : value.toISOString();
}

/** bigserial ids: node-postgres gives strings, PGlite numbers; the API always says strings. */
function serial(value: string | number): string {
  return String(value);
}

/** An organization row as the API shows it. */
export function toOrganization(row: Row<"organizations">): Organization {
  return {
    id: row.id,
    slug: row.slug,
    display_name: row.display_name,
    created_at: iso(row.created_at),
  };
}

/** A project row as the API shows it. */
export function toProject(row: Row<"projects">): Project {
  return {
    id: row.id,
    org_id: row.org_id,
    slug: row.slug,
    display_name: row.display_name,
    created_at: iso(row.created_at),
  };
}

/** A user row as the API shows it. */
export function toUser(row: Row<"users">): User {
  return {
    id: row.id,
    email: row.email,
    display_name: row.display_name,
    platform_role: row.platform_role,
    created_at: iso(row.created_at),
  };
}

/** A membership row as the API shows it. */
export function toMembership(row: Row<"memberships">): Membership {
  return {
    id: row.id,
    user_id: row.user_id,
    org_id: row.org_id,
    project_id: row.project_id,
    role: row.role,
    created_at: iso(row.created_at),
  };
}

/** A service account row as the API shows it. */
export function toServiceAccount(row: Row<"service_accounts">): ServiceAccount {
  return {
    id: row.id,
    project_id: row.project_id,
    name: row.name,
    description: row.description,
    role: row.role,
    created_at: iso(row.created_at),
  };
}

/** A token row as the API shows it: metadata and fingerprint, never the hash. */
export function toApiToken(row: Row<"api_tokens">): ApiToken {
  const owner: ApiToken["owner"] =
    row.user_id !== null
      ? { kind: "user", user_id: row.user_id }
      : { kind: "service_account", service_account_id: row.service_account_id ?? "" };
  return {
    id: row.id,
    owner,
    name: row.name,
    fingerprint: row.fingerprint,
    created_at: iso(row.created_at),
    expires_at: isoOrNull(row.expires_at),
    revoked_at: isoOrNull(row.revoked_at),
    last_used_at: isoOrNull(row.last_used_at),
  };
}

/** A catalog row as the API shows it. */
export function toApp(row: Row<"app_catalog">): App {
  return {
    id: row.id,
    slug: row.slug,
    display_name: row.display_name,
    description: row.description,
    support_level: row.support_level,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** An app version row as the API shows it. */
export function toAppVersion(row: AppVersionRow): AppVersion {
  return {
    id: row.id,
    app_id: row.app_id,
    app_slug: row.app_slug,
    version: row.version,
    manifest: row.manifest,
    profile: row.profile,
    gate_report: row.gate_report,
    published: row.published,
    created_at: iso(row.created_at),
  };
}

/** An entitlement row as the API shows it. */
export function toEntitlement(row: Row<"project_entitlements">): Entitlement {
  return {
    project_id: row.project_id,
    app_slug: row.app_slug,
    enabled: row.enabled,
    updated_at: iso(row.updated_at),
  };
}

/** An artifact row as the API shows it, shaped to satisfy the contract's `ArtifactRecord`. */
export function toArtifact(row: Row<"app_artifacts">): Artifact {
  return {
    id: row.id,
    app_version_id: row.app_version_id,
    artifact_name: row.artifact_name,
    repository: row.repository,
    digest: row.digest,
    media_type: row.media_type,
    state: row.state,
    ...(row.platform_os !== null && row.platform_architecture !== null
      ? { platform: { os: row.platform_os, architecture: row.platform_architecture } }
      : {}),
    ...(row.accelerator_vendor !== null
      ? {
          accelerator: {
            vendor: row.accelerator_vendor,
            ...(row.accelerator_family !== null ? { family: row.accelerator_family } : {}),
            ...(row.accelerator_sku !== null ? { sku: row.accelerator_sku } : {}),
          },
        }
      : {}),
    verified_at: isoOrNull(row.verified_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** A node row as the API shows it: whether it is enrolled, never its credential hash. */
export function toNode(row: Row<"nodes">): Node {
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    inventory: row.inventory,
    enrolled: row.credential_hash !== null,
    last_heartbeat_at: isoOrNull(row.last_heartbeat_at),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** An allocation row as the API shows it, shaped to satisfy the contract's `AllocationShape`. */
export function toAllocation(row: Row<"allocations">): Allocation {
  return {
    id: row.id,
    project_id: row.project_id,
    node_id: row.node_id,
    state: row.state,
    accelerator: {
      vendor: row.accelerator_vendor,
      ...(row.accelerator_family !== null ? { family: row.accelerator_family } : {}),
      ...(row.accelerator_sku !== null ? { sku: row.accelerator_sku } : {}),
    },
    cpu_architecture: row.cpu_architecture,
    gpu_indices: row.gpu_indices,
    cpu_cores: row.cpu_cores,
    memory_gib: row.memory_gib,
    storage_modes: row.storage_modes,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    released_at: isoOrNull(row.released_at),
  };
}

/** An instance row (joined with its app version) as the API shows it. */
export function toInstance(row: InstanceRow): Instance {
  return {
    id: row.id,
    project_id: row.project_id,
    app_version_id: row.app_version_id,
    app_slug: row.app_slug,
    app_version: row.app_version,
    target_allocation_id: row.target_allocation_id,
    display_name: row.display_name,
    engine: row.engine,
    desired_state: row.desired_state,
    state: row.state,
    generation: row.generation,
    resolved_values: row.resolved_values,
    artifact_id: row.artifact_id,
    resolved_digest: row.resolved_digest,
    gpu_indices: row.gpu_indices,
    created_by: row.created_by,
    correlation_id: row.correlation_id,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    state_changed_at: iso(row.state_changed_at),
  };
}

/** An instance member row as the API shows it. */
export function toInstanceMember(row: Row<"app_instance_members">): InstanceMember {
  return {
    id: row.id,
    instance_id: row.instance_id,
    name: row.name,
    node_id: row.node_id,
    container_id: row.container_id,
    host_port: row.host_port,
    endpoint_url: row.endpoint_url,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

/** A node task row as the API (and the agent) sees it. */
export function toNodeTask(row: Row<"node_tasks">): NodeTask {
  return {
    id: row.id,
    node_id: row.node_id,
    instance_id: row.instance_id,
    kind: row.kind,
    spec: row.spec,
    state: row.state,
    lease_owner: row.lease_owner,
    lease_expires_at: isoOrNull(row.lease_expires_at),
    attempts: row.attempts,
    result: row.result,
    correlation_id: row.correlation_id,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    completed_at: isoOrNull(row.completed_at),
  };
}

/** An event row as the API shows it. */
export function toEvent(row: Row<"events">): StoreEvent {
  return {
    id: serial(row.id),
    project_id: row.project_id,
    instance_id: row.instance_id,
    type: row.type,
    message: row.message,
    data: row.data,
    correlation_id: row.correlation_id,
    created_at: iso(row.created_at),
  };
}

/** An audit row as the API shows it. */
export function toAuditEntry(row: Row<"audit_log">): AuditEntry {
  return {
    id: serial(row.id),
    actor: row.actor,
    action: row.action,
    target: row.target,
    project_id: row.project_id,
    correlation_id: row.correlation_id,
    data: row.data,
    created_at: iso(row.created_at),
  };
}
