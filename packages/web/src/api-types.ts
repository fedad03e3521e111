/**
 * The control plane's API records as the console reads them (`/api/v1`, see
 * `/api/v1/openapi.json`). Only the fields the console uses are declared; the profile and the
 * artifact shapes come from the contract, the same types the server builds them from.
 */
import type {
  AllocationShape,
  ArtifactRecord,
  GateReport,
  InstanceState,
  SupportLevel,
  WorkloadProfile,
} from "@gpuaas/contract";

/** One page of a list endpoint. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next_cursor: string | null;
}

/** The one error body of the API. */
export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly issues?: readonly { pointer: string; code: string; message: string }[];
  readonly details?: Readonly<Record<string, unknown>>;
  readonly correlation_id?: string;
}

export interface User {
  readonly id: string;
  readonly email: string;
  readonly display_name: string;
  readonly platform_role: string | null;
}

export interface ProjectWithRole {
  readonly id: string;
  readonly org_id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly role: string;
}

/** `GET /me` for a signed-in user. */
export interface Me {
  readonly kind: "user" | "service_account";
  readonly user?: User;
  readonly platform_role: string | null;
  readonly projects: readonly ProjectWithRole[];
}

export interface CatalogApp {
  readonly id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly description: string;
  readonly support_level: SupportLevel;
  readonly versions: readonly {
    readonly version: string;
    readonly published: boolean;
    readonly created_at: string;
  }[];
}

export interface AppVersion {
  readonly id: string;
  readonly app_slug: string;
  readonly version: string;
  /** The manifest as registered; shown only in the advanced view. */
  readonly manifest: unknown;
  /** The normalized profile every launch is resolved against. */
  readonly profile: WorkloadProfile;
  readonly gate_report: GateReport;
  readonly published: boolean;
  readonly created_at: string;
}

export interface Artifact extends ArtifactRecord {
  readonly app_version_id: string;
  readonly verified_at: string | null;
  readonly created_at: string;
}

export interface Allocation extends AllocationShape {
  readonly project_id: string;
  readonly node_id: string;
  readonly state: "active" | "releasing" | "released";
  readonly gpu_indices: readonly number[];
  readonly cpu_cores: number;
  readonly memory_gib: number;
  readonly storage_modes: readonly string[];
  readonly created_at: string;
}

export interface ServiceAccount {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly role: string;
}

export interface Instance {
  readonly id: string;
  readonly project_id: string;
  readonly app_slug: string;
  readonly app_version: string;
  readonly target_allocation_id: string;
  readonly display_name: string;
  readonly engine: string;
  readonly desired_state: "running" | "stopped" | "decommissioned";
  readonly state: InstanceState;
  readonly generation: number;
  readonly resolved_values: Readonly<Record<string, unknown>>;
  readonly artifact_id: string;
  readonly resolved_digest: string;
  readonly gpu_indices: readonly number[];
  readonly created_by: string;
  readonly correlation_id: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly state_changed_at: string;
}

export interface InstanceMember {
  readonly id: string;
  readonly name: string;
  readonly node_id: string;
  readonly container_id: string | null;
  readonly host_port: number | null;
  readonly endpoint_url: string | null;
}

export interface InstanceEvent {
  readonly id: string;
  readonly type: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly correlation_id: string;
  readonly created_at: string;
}

/** A node as operators may read it; project members cannot. */
export interface NodeRecord {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly inventory: Readonly<Record<string, unknown>>;
}

/** One endpoint of an instance as `GET …/app-instances/{id}/endpoints` describes it. */
export interface InstanceEndpoint {
  readonly name: string;
  readonly type: string;
  readonly container_port: number;
  readonly host_port: number | null;
  readonly exposure: "managed_ingress" | "private";
  /** The managed route while the instance runs: open `url` (with the default open path). */
  readonly managed: {
    readonly route_id: string;
    readonly public_host: string;
    readonly url: string;
    readonly client_auth: "browser_oidc" | "api_bearer";
    readonly websocket: boolean;
    readonly edge_in_sync: boolean;
  } | null;
  /** Why the endpoint has no managed route (`ingress.*` code). */
  readonly not_exposed: { readonly code: string; readonly message: string } | null;
  readonly ssh_tunnel: { readonly command: string; readonly local_url: string } | null;
}

/** A sign-in ticket for a browser route: where to send the browser. */
export interface IngressTicket {
  readonly redirect_url: string;
  readonly route_id: string;
  readonly public_host: string;
  readonly expires_at: string;
}
