/**
 * Identity and access: organizations, projects, users, memberships, service accounts and bearer
 * tokens. Tokens are stored as SHA-256 only; the plaintext exists once, in the creation result.
 */
import type { StoreDb } from "./database.js";
import { hashSecret, isSecretOfKind, mintSecret, newId } from "./mint-secret.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import {
  toApiToken,
  toMembership,
  toOrganization,
  toProject,
  toServiceAccount,
  toUser,
} from "./to-api.js";
import type {
  ApiToken,
  CreatedApiToken,
  Membership,
  Organization,
  PlatformRole,
  Principal,
  Project,
  ProjectRole,
  ServiceAccount,
  TokenOwner,
  User,
} from "./types.js";

/** A token's last use is written at most this often, so authenticating is not a write per call. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** Creates an organization; `store.conflict` when the slug is taken. */
export async function createOrganization(
  db: StoreDb,
  input: { readonly slug: string; readonly display_name: string },
): Promise<Organization> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("organizations")
      .values({ id: newId(), slug: input.slug, display_name: input.display_name })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toOrganization(row);
}

/** The organization with this id, or undefined. */
export async function getOrganization(db: StoreDb, id: string): Promise<Organization | undefined> {
  const row = await db
    .selectFrom("organizations")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : toOrganization(row);
}

/** Every organization, oldest first. */
export async function listOrganizations(db: StoreDb): Promise<Organization[]> {
  const rows = await db.selectFrom("organizations").selectAll().orderBy("created_at").execute();
  return rows.map(toOrganization);
}

/** Creates a project in an organization; slugs are unique per organization. */
export async function createProject(
  db: StoreDb,
  input: { readonly org_id: string; readonly slug: string; readonly display_name: string },
): Promise<Project> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("projects")
      .values({
        id: newId(),
        org_id: input.org_id,
        slug: input.slug,
        display_name: input.display_name,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toProject(row);
}

/** The project with this id, or undefined. */
export async function getProject(db: StoreDb, id: string): Promise<Project | undefined> {
  const row = await db.selectFrom("projects").selectAll().where("id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toProject(row);
}

/** The projects of an organization, oldest first. */
export async function listProjects(db: StoreDb, orgId: string): Promise<Project[]> {
  const rows = await db
    .selectFrom("projects")
    .selectAll()
    .where("org_id", "=", orgId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(toProject);
}

/** Creates a user; emails are compared case-insensitively and stored lowercased. */
export async function createUser(
  db: StoreDb,
  input: {
    readonly email: string;
    readonly display_name: string;
    readonly platform_role?: PlatformRole | null;
  },
): Promise<User> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("users")
      .values({
        id: newId(),
        email: input.email.trim().toLowerCase(),
        display_name: input.display_name,
        platform_role: input.platform_role ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toUser(row);
}

/** The user with this id, or undefined. */
export async function getUser(db: StoreDb, id: string): Promise<User | undefined> {
  const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

/** The user with this email (any case), or undefined. */
export async function getUserByEmail(db: StoreDb, email: string): Promise<User | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where("email", "=", email.trim().toLowerCase())
    .executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

/** Grants or withdraws the platform-operator role. */
export async function setPlatformRole(
  db: StoreDb,
  userId: string,
  role: PlatformRole | null,
): Promise<User> {
  const row = await withStoreErrors(() =>
    db
      .updateTable("users")
      .set({ platform_role: role })
      .where("id", "=", userId)
      .returningAll()
      .executeTakeFirst(),
  );
  if (row === undefined) throw new StoreError("store.not_found", `user ${userId} not found`);
  return toUser(row);
}

/** What a membership grants: an organization role, or a role in one project. */
export type MembershipGrant =
  | { readonly user_id: string; readonly org_id: string; readonly role: "org_admin" }
  | { readonly user_id: string; readonly project_id: string; readonly role: ProjectRole };

/**
 * Grants a role. A project membership records the project's organization too, so a user's
 * memberships in one organization are one indexed read. One role per user and scope:
 * `store.conflict` when the user already has one there.
 */
export async function createMembership(db: StoreDb, grant: MembershipGrant): Promise<Membership> {
  let orgId: string;
  let projectId: string | null = null;
  if ("project_id" in grant) {
    const project = await getProject(db, grant.project_id);
    if (project === undefined)
      throw new StoreError("store.invalid_reference", `project ${grant.project_id} not found`);
    orgId = project.org_id;
    projectId = project.id;
  } else {
    orgId = grant.org_id;
  }
  const row = await withStoreErrors(() =>
    db
      .insertInto("memberships")
      .values({
        id: newId(),
        user_id: grant.user_id,
        org_id: orgId,
        project_id: projectId,
        role: grant.role,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toMembership(row);
}

/** Memberships filtered by user, organization or project (at least one filter). */
export async function listMemberships(
  db: StoreDb,
  filter: { readonly user_id?: string; readonly org_id?: string; readonly project_id?: string },
): Promise<Membership[]> {
  let query = db.selectFrom("memberships").selectAll();
  if (filter.user_id !== undefined) query = query.where("user_id", "=", filter.user_id);
  if (filter.org_id !== undefined) query = query.where("org_id", "=", filter.org_id);
  if (filter.project_id !== undefined) query = query.where("project_id", "=", filter.project_id);
  const rows = await query.orderBy("created_at").orderBy("id").execute();
  return rows.map(toMembership);
}

/** Removes a membership; `store.not_found` when there is none. */
export async function deleteMembership(db: StoreDb, id: string): Promise<void> {
  const result = await db.deleteFrom("memberships").where("id", "=", id).executeTakeFirst();
  if (result.numDeletedRows === 0n)
    throw new StoreError("store.not_found", `membership ${id} not found`);
}

/** Creates a project service account acting with `role` in its project. */
export async function createServiceAccount(
  db: StoreDb,
  input: {
    readonly project_id: string;
    readonly name: string;
    readonly role: ProjectRole;
    readonly description?: string;
  },
): Promise<ServiceAccount> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("service_accounts")
      .values({
        id: newId(),
        project_id: input.project_id,
        name: input.name,
        description: input.description ?? "",
        role: input.role,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toServiceAccount(row);
}

/** The service account with this id, or undefined. */
export async function getServiceAccount(
  db: StoreDb,
  id: string,
): Promise<ServiceAccount | undefined> {
  const row = await db
    .selectFrom("service_accounts")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : toServiceAccount(row);
}

/** The service accounts of a project. */
export async function listServiceAccounts(
  db: StoreDb,
  projectId: string,
): Promise<ServiceAccount[]> {
  const rows = await db
    .selectFrom("service_accounts")
    .selectAll()
    .where("project_id", "=", projectId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(toServiceAccount);
}

/**
 * Mints a bearer token for a user or a service account (the seed's service-account token mint).
 * The result carries the plaintext; only its SHA-256 and a fingerprint prefix are stored.
 */
export async function createToken(
  db: StoreDb,
  input: { readonly owner: TokenOwner; readonly name: string; readonly expires_at?: Date | null },
): Promise<CreatedApiToken> {
  const secret = mintSecret(input.owner.kind === "user" ? "user_token" : "service_account_token");
  const row = await withStoreErrors(() =>
    db
      .insertInto("api_tokens")
      .values({
        id: newId(),
        user_id: input.owner.kind === "user" ? input.owner.user_id : null,
        service_account_id:
          input.owner.kind === "service_account" ? input.owner.service_account_id : null,
        name: input.name,
        token_hash: secret.hash,
        fingerprint: secret.fingerprint,
        expires_at: input.expires_at ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return { token: toApiToken(row), plaintext: secret.plaintext };
}

/** The token with this id (metadata only), or undefined. */
export async function getToken(db: StoreDb, id: string): Promise<ApiToken | undefined> {
  const row = await db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toApiToken(row);
}

/** The tokens of one owner, revoked ones included. */
export async function listTokens(db: StoreDb, owner: TokenOwner): Promise<ApiToken[]> {
  const query = db.selectFrom("api_tokens").selectAll();
  const rows = await (owner.kind === "user"
    ? query.where("user_id", "=", owner.user_id)
    : query.where("service_account_id", "=", owner.service_account_id)
  )
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(toApiToken);
}

/** Revokes a token from `now` on; revoking twice keeps the first time. */
export async function revokeToken(
  db: StoreDb,
  id: string,
  now: Date = new Date(),
): Promise<ApiToken> {
  const row = await db
    .updateTable("api_tokens")
    .set((eb) => ({ revoked_at: eb.fn.coalesce("revoked_at", eb.val(now)) }))
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw new StoreError("store.not_found", `token ${id} not found`);
  return toApiToken(row);
}

/**
 * Resolves a bearer token to its principal, or undefined when it is malformed, unknown, revoked,
 * or expired at `now`. Looks the token up by its hash only.
 */
export async function authenticateToken(
  db: StoreDb,
  plaintext: string,
  now: Date = new Date(),
): Promise<Principal | undefined> {
  if (
    !isSecretOfKind(plaintext, "user_token") &&
    !isSecretOfKind(plaintext, "service_account_token")
  )
    return undefined;
  const token = await db
    .selectFrom("api_tokens")
    .selectAll()
    .where("token_hash", "=", hashSecret(plaintext))
    .where("revoked_at", "is", null)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
    .executeTakeFirst();
  if (token === undefined) return undefined;
  let principal: Principal | undefined;
  if (token.user_id !== null) {
    const user = await getUser(db, token.user_id);
    if (user !== undefined)
      principal = { kind: "user", token_id: token.id, fingerprint: token.fingerprint, user };
  } else if (token.service_account_id !== null) {
    const account = await getServiceAccount(db, token.service_account_id);
    if (account !== undefined)
      principal = {
        kind: "service_account",
        token_id: token.id,
        fingerprint: token.fingerprint,
        service_account: account,
      };
  }
  if (
    principal !== undefined &&
    (token.last_used_at === null ||
      now.getTime() - token.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS)
  ) {
    await db
      .updateTable("api_tokens")
      .set({ last_used_at: now })
      .where("id", "=", token.id)
      .execute();
  }
  return principal;
}
