/**
 * Who may reach a route: the subjects of its intent. Users are named by id (service accounts as
 * `service_account:<id>`); the group `project:<id>` means the project's members who may operate
 * in it (`project_member`, `project_admin`, or `org_admin` of its organization). Platform
 * operators get no implicit access to workloads: a workload's origin is its users' data.
 */
import { PROJECT_GROUP_PREFIX, type RouteIntent } from "@gpuaas/ingress";
import { getProject, listMemberships, type StoreDb } from "../store/index.js";
import type { IngressPrincipal } from "../store/ingress-credentials.js";

const OPERATING_ROLES: ReadonlySet<string> = new Set(["project_member", "project_admin"]);

/** The id a principal has in route subjects and in `X-Platform-User`. */
export function toSubjectId(principal: IngressPrincipal): string {
  return principal.kind === "user"
    ? principal.user.id
    : `service_account:${principal.service_account.id}`;
}

/** True when `principal` is one of the route's subjects. */
export async function mayReachRoute(
  db: StoreDb,
  intent: RouteIntent,
  principal: IngressPrincipal,
): Promise<boolean> {
  if (intent.subjects.users.includes(toSubjectId(principal))) return true;
  for (const group of intent.subjects.groups) {
    if (!group.startsWith(PROJECT_GROUP_PREFIX)) continue;
    const projectId = group.slice(PROJECT_GROUP_PREFIX.length);
    if (principal.kind === "service_account") {
      const account = principal.service_account;
      if (account.project_id === projectId && OPERATING_ROLES.has(account.role)) return true;
      continue;
    }
    const project = await getProject(db, projectId);
    if (project === undefined) continue;
    const memberships = await listMemberships(db, {
      user_id: principal.user.id,
      org_id: project.org_id,
    });
    const member = memberships.some(
      (membership) =>
        (membership.role === "org_admin" && membership.project_id === null) ||
        (membership.project_id === projectId && OPERATING_ROLES.has(membership.role)),
    );
    if (member) return true;
  }
  return false;
}
