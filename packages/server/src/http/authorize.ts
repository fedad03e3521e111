import type { StoreDb } from "../store/database.js";
import { getProject, listMemberships } from "../store/index.js";
import type { Principal, ProjectRole } from "../store/types.js";
import { ApiError } from "./api-error.js";

/**
 * What a route needs from its caller. Every route declares exactly one; `build-app.ts` refuses to
 * start with a route that declares none, so no route is ever left unauthorised.
 */
export type Permission =
  /** Health and the OpenAPI document: no token. */
  | "public"
  /** Any valid token: the catalog, the caller's own identity. */
  | "authenticated"
  /** Platform operators: catalog writes, artifacts, nodes, allocations. */
  | "operator"
  /** Operators, and `org_admin` of the organization named by the `org_id` path parameter. */
  | "org.admin"
  /** At least `project_viewer` in the project named by the `project_id` path parameter. */
  | "project.read"
  /** At least `project_member`: launch and operate instances. */
  | "project.operate"
  /** At least `project_admin`: entitlements, service accounts, their tokens. */
  | "project.admin"
  /**
   * Node agents (`/api/v1/agent/*`): a node credential from `POST /api/v1/agent/register` as the
   * bearer token. User and service-account tokens never pass, and a node credential passes
   * nothing else.
   */
  | "node"
  /** The registry token endpoint: a leased task's pull credential as HTTP Basic auth. */
  | "registry_pull";

/** Permissions proved by a machine credential rather than a user or service-account token. */
export type MachinePermission = "node" | "registry_pull";

/** True for a permission a node agent or a registry client proves (see `authenticate-agent.ts`). */
export function isMachinePermission(permission: Permission): permission is MachinePermission {
  return permission === "node" || permission === "registry_pull";
}

const RANK: Record<ProjectRole, number> = {
  project_viewer: 1,
  project_member: 2,
  project_admin: 3,
};
const NEEDED: Record<"project.read" | "project.operate" | "project.admin", number> = {
  "project.read": 1,
  "project.operate": 2,
  "project.admin": 3,
};

/** The path parameters that scope a permission: `project_id` and `org_id`. */
export interface PermissionScope {
  readonly project_id?: string | undefined;
  readonly org_id?: string | undefined;
}

/** True for a principal that holds the platform operator role. */
export function isOperator(principal: Principal): boolean {
  return principal.kind === "user" && principal.user.platform_role === "platform_operator";
}

/**
 * The role a principal holds in a project: a service account its own role in its own project; a
 * user the strongest of their project membership and (as `project_admin`) an org-admin membership.
 * Operators act as `project_admin` everywhere. Undefined when the principal has none.
 */
export async function resolveProjectRole(
  db: StoreDb,
  principal: Principal,
  projectId: string,
): Promise<ProjectRole | undefined> {
  if (principal.kind === "service_account") {
    return principal.service_account.project_id === projectId
      ? principal.service_account.role
      : undefined;
  }
  if (isOperator(principal)) return "project_admin";
  const project = await getProject(db, projectId);
  if (project === undefined) return undefined;
  const memberships = await listMemberships(db, {
    user_id: principal.user.id,
    org_id: project.org_id,
  });
  let best: ProjectRole | undefined;
  for (const membership of memberships) {
    const role: ProjectRole | undefined =
      membership.role === "org_admin"
        ? "project_admin"
        : membership.project_id === projectId
          ? membership.role
          : undefined;
    if (role !== undefined && (best === undefined || RANK[role] > RANK[best])) best = role;
  }
  return best;
}

/**
 * True for a principal that administers an organization: an operator, or a user with an
 * `org_admin` membership there. Service accounts are project-scoped and never qualify.
 */
export async function isOrgAdmin(
  db: StoreDb,
  principal: Principal,
  orgId: string,
): Promise<boolean> {
  if (isOperator(principal)) return true;
  if (principal.kind !== "user") return false;
  const memberships = await listMemberships(db, { user_id: principal.user.id, org_id: orgId });
  return memberships.some(
    (membership) => membership.role === "org_admin" && membership.project_id === null,
  );
}

/**
 * Checks a principal against a permission, throwing `auth.forbidden` when it falls short. Project
 * and organization permissions take their id from the path (`scope`); one the caller has no role
 * in is refused the same way whether or not it exists, so ids cannot be probed.
 */
export async function authorize(
  db: StoreDb,
  principal: Principal,
  permission: Exclude<Permission, "public" | MachinePermission>,
  scope: PermissionScope | undefined,
): Promise<void> {
  if (permission === "authenticated") return;
  if (permission === "operator") {
    if (isOperator(principal)) return;
    throw new ApiError("auth.forbidden", "this action needs the platform operator role");
  }
  if (permission === "org.admin") {
    const orgId = scope?.org_id;
    if (orgId !== undefined && (await isOrgAdmin(db, principal, orgId))) return;
    throw new ApiError(
      "auth.forbidden",
      "this action needs the org_admin role in this organization",
    );
  }
  const projectId = scope?.project_id;
  if (projectId === undefined) throw new ApiError("auth.forbidden", "this action needs a project");
  const role = await resolveProjectRole(db, principal, projectId);
  if (role === undefined) throw new ApiError("auth.forbidden", "you have no role in this project");
  if (RANK[role] < NEEDED[permission]) {
    const needed =
      permission === "project.read"
        ? "project_viewer"
        : permission === "project.operate"
          ? "project_member"
          : "project_admin";
    throw new ApiError(
      "auth.forbidden",
      `this action needs the ${needed} role in this project; you are ${role}`,
    );
  }
}
