import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  createMembership,
  createOrganization,
  createProject,
  createServiceAccount,
  createToken,
  createUser,
  deleteMembership,
  getOrganization,
  getProject,
  getServiceAccount,
  getToken,
  getUser,
  inTransaction,
  listMemberships,
  listOrganizations,
  listProjects,
  listServiceAccounts,
  listTokens,
  PROJECT_ROLES,
  revokeToken,
  type StoreDb,
} from "../../store/index.js";
import type {
  ApiToken,
  CreatedApiToken,
  Membership,
  Principal,
  Project,
  ProjectRole,
  ServiceAccount,
  TokenOwner,
} from "../../store/types.js";
import { ApiError } from "../api-error.js";
import type { AppContext } from "../build-app.js";
import { auditRequest } from "../route-problems.js";
import {
  errorResponses,
  idSchema,
  listResponse,
  objectResponse,
  projectParams,
} from "../route-schemas.js";

/** Shortest and longest lifetime a minted token may ask for, and the lifetime when it asks none. */
const TOKEN_TTL_SECONDS = { min: 60, max: 365 * 24 * 3600, default: 90 * 24 * 3600 } as const;

const slugSchema = { type: "string", pattern: "^[a-z][a-z0-9-]{0,61}[a-z0-9]$" } as const;
const displayNameSchema = { type: "string", minLength: 1, maxLength: 128 } as const;
const nameSchema = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  pattern: "^[A-Za-z0-9][A-Za-z0-9._ -]*$",
} as const;
const emailSchema = {
  type: "string",
  minLength: 3,
  maxLength: 254,
  pattern: "^[^\\s@]+@[^\\s@]+$",
} as const;
const projectRoleSchema = { type: "string", enum: [...PROJECT_ROLES] } as const;

/** Path parameters made of the given ids, all required. */
function idParams<const K extends string>(...keys: readonly K[]) {
  return {
    type: "object",
    additionalProperties: false,
    required: keys,
    properties: Object.fromEntries(keys.map((key) => [key, idSchema])) as Record<
      K,
      typeof idSchema
    >,
  } as const;
}

const tokenMintBody = {
  type: "object",
  additionalProperties: false,
  required: ["name"],
  properties: {
    name: nameSchema,
    expires_in_seconds: {
      type: "integer",
      minimum: TOKEN_TTL_SECONDS.min,
      maximum: TOKEN_TTL_SECONDS.max,
    },
  },
} as const;

/** A minted token: its metadata and, this once, its plaintext. */
const tokenMintResponse = {
  type: "object",
  additionalProperties: false,
  required: ["token", "plaintext"],
  properties: { token: objectResponse, plaintext: { type: "string" } },
} as const;

/** The body of a token mint. */
interface TokenMintBody {
  readonly name: string;
  readonly expires_in_seconds?: number;
}

/** The owner a principal's own tokens belong to. */
function toOwner(principal: Principal): TokenOwner {
  return principal.kind === "user"
    ? { kind: "user", user_id: principal.user.id }
    : { kind: "service_account", service_account_id: principal.service_account.id };
}

function isOwnedBy(token: ApiToken, owner: TokenOwner): boolean {
  if (token.owner.kind === "user")
    return owner.kind === "user" && token.owner.user_id === owner.user_id;
  return (
    owner.kind === "service_account" && token.owner.service_account_id === owner.service_account_id
  );
}

/**
 * Mints a token for `owner` and audits it in one transaction. The plaintext is in the result only;
 * `no-store` keeps proxies and browsers from caching the one response that carries it.
 */
async function mintToken(
  context: AppContext,
  request: FastifyRequest,
  reply: FastifyReply,
  input: {
    readonly owner: TokenOwner;
    readonly body: TokenMintBody;
    readonly project_id: string | null;
  },
): Promise<FastifyReply> {
  const ttl = input.body.expires_in_seconds ?? TOKEN_TTL_SECONDS.default;
  const expiresAt = new Date(context.now().getTime() + ttl * 1000);
  const created: CreatedApiToken = await inTransaction(context.store.db, async (tx) => {
    const minted = await createToken(tx, {
      owner: input.owner,
      name: input.body.name,
      expires_at: expiresAt,
    });
    await auditRequest(tx, request, "token.minted", `token:${minted.token.id}`, input.project_id, {
      owner:
        input.owner.kind === "user"
          ? `user:${input.owner.user_id}`
          : `service_account:${input.owner.service_account_id}`,
      expires_at: minted.token.expires_at,
    });
    return minted;
  });
  return reply.status(201).header("cache-control", "no-store").send(created);
}

/** The service account `id` of project `projectId`; `resource.not_found` for any other. */
async function loadProjectServiceAccount(
  db: StoreDb,
  projectId: string,
  id: string,
): Promise<ServiceAccount> {
  const account = await getServiceAccount(db, id);
  if (account === undefined || account.project_id !== projectId) {
    throw new ApiError("resource.not_found", `no service account ${id} in this project`);
  }
  return account;
}

/** The membership `id` inside a scope; `resource.not_found` for one outside it, so ids cannot be probed. */
async function loadMembership(
  db: StoreDb,
  scope: { readonly org_id: string } | { readonly project_id: string },
  id: string,
): Promise<Membership> {
  const membership = (await listMemberships(db, scope)).find((candidate) => candidate.id === id);
  if (membership === undefined)
    throw new ApiError("resource.not_found", `no membership ${id} here`);
  return membership;
}

const RANK: Record<ProjectRole, number> = {
  project_viewer: 1,
  project_member: 2,
  project_admin: 3,
};

/** The projects a principal holds a role in through memberships or its service account. */
async function listOwnProjects(
  db: StoreDb,
  principal: Principal,
): Promise<{
  orgs: { id: string; role: "org_admin" }[];
  projects: (Project & { role: ProjectRole })[];
}> {
  if (principal.kind === "service_account") {
    const account = principal.service_account;
    const projects = (await listProjectsByIds(db, [account.project_id])).map((project) => ({
      ...project,
      role: account.role,
    }));
    return { orgs: [], projects };
  }
  const memberships = await listMemberships(db, { user_id: principal.user.id });
  const roles = new Map<string, ProjectRole>();
  const grant = (projectId: string, role: ProjectRole): void => {
    const held = roles.get(projectId);
    if (held === undefined || RANK[role] > RANK[held]) roles.set(projectId, role);
  };
  const orgs: { id: string; role: "org_admin" }[] = [];
  for (const membership of memberships) {
    if (membership.role === "org_admin") {
      orgs.push({ id: membership.org_id, role: "org_admin" });
      for (const project of await listProjects(db, membership.org_id))
        grant(project.id, "project_admin");
    } else if (membership.project_id !== null) {
      grant(membership.project_id, membership.role);
    }
  }
  const projects = (await listProjectsByIds(db, [...roles.keys()])).map((project) => ({
    ...project,
    role: roles.get(project.id) ?? "project_viewer",
  }));
  return { orgs, projects };
}

async function listProjectsByIds(db: StoreDb, ids: readonly string[]): Promise<Project[]> {
  const found: Project[] = [];
  for (const id of ids) {
    const project = await getProject(db, id);
    if (project !== undefined) found.push(project);
  }
  return found;
}

/**
 * Identity and access routes (seed 001: "Resource Hierarchy", "IAM And Machine Identity"):
 * organizations, projects, users, memberships, service accounts and the service-account token
 * mint. Tokens are returned in plaintext once, by the mint; every other response carries metadata.
 */
export function registerIamRoutes(api: FastifyInstance, context: AppContext): void {
  const db = context.store.db;

  api.get(
    "/me",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["iam"],
        summary: "The caller's identity, roles and projects",
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal === undefined)
        throw new ApiError("auth.missing_token", "send a bearer token in the Authorization header");
      const token = await getToken(db, principal.token_id);
      const { orgs, projects } = await listOwnProjects(db, principal);
      const identity =
        principal.kind === "user"
          ? {
              kind: "user" as const,
              user: principal.user,
              platform_role: principal.user.platform_role,
            }
          : {
              kind: "service_account" as const,
              service_account: principal.service_account,
              platform_role: null,
            };
      return {
        ...identity,
        token:
          token === undefined
            ? null
            : {
                id: token.id,
                name: token.name,
                fingerprint: token.fingerprint,
                expires_at: token.expires_at,
              },
        orgs,
        projects,
      };
    },
  );

  api.get(
    "/me/tokens",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["iam"],
        summary: "The caller's own tokens (metadata only)",
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      if (request.principal === undefined)
        throw new ApiError("auth.missing_token", "send a bearer token in the Authorization header");
      return { items: await listTokens(db, toOwner(request.principal)) };
    },
  );

  api.post<{ Params: { token_id: string } }>(
    "/me/tokens/:token_id/revoke",
    {
      config: { permission: "authenticated" },
      schema: {
        tags: ["iam"],
        summary: "Revoke one of the caller's own tokens; its next use gets 401",
        params: idParams("token_id"),
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal === undefined)
        throw new ApiError("auth.missing_token", "send a bearer token in the Authorization header");
      const token = await getToken(db, request.params.token_id);
      if (token === undefined || !isOwnedBy(token, toOwner(principal))) {
        throw new ApiError("resource.not_found", `you hold no token ${request.params.token_id}`);
      }
      return inTransaction(db, async (tx) => {
        const revoked = await revokeToken(tx, token.id, context.now());
        await auditRequest(tx, request, "token.revoked", `token:${token.id}`, null);
        return revoked;
      });
    },
  );

  api.post<{ Body: { slug: string; display_name: string } }>(
    "/orgs",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["iam"],
        summary: "Create an organization (tenant)",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["slug", "display_name"],
          properties: { slug: slugSchema, display_name: displayNameSchema },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const org = await inTransaction(db, async (tx) => {
        const created = await createOrganization(tx, request.body);
        await auditRequest(tx, request, "org.created", `org:${created.id}`, null, {
          slug: created.slug,
        });
        return created;
      });
      return reply.status(201).send(org);
    },
  );

  api.get(
    "/orgs",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["iam"],
        summary: "List organizations",
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async () => ({ items: await listOrganizations(db) }),
  );

  api.post<{ Params: { org_id: string }; Body: { slug: string; display_name: string } }>(
    "/orgs/:org_id/projects",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["iam"],
        summary: "Create a project in an organization",
        params: idParams("org_id"),
        body: {
          type: "object",
          additionalProperties: false,
          required: ["slug", "display_name"],
          properties: { slug: slugSchema, display_name: displayNameSchema },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      if ((await getOrganization(db, request.params.org_id)) === undefined) {
        throw new ApiError("resource.not_found", `no organization ${request.params.org_id}`);
      }
      const project = await inTransaction(db, async (tx) => {
        const created = await createProject(tx, { org_id: request.params.org_id, ...request.body });
        await auditRequest(tx, request, "project.created", `project:${created.id}`, created.id, {
          slug: created.slug,
        });
        return created;
      });
      return reply.status(201).send(project);
    },
  );

  api.get<{ Params: { org_id: string } }>(
    "/orgs/:org_id/projects",
    {
      config: { permission: "org.admin" },
      schema: {
        tags: ["iam"],
        summary: "List an organization's projects",
        params: idParams("org_id"),
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({ items: await listProjects(db, request.params.org_id) }),
  );

  api.post<{ Params: { org_id: string }; Body: { user_id: string } }>(
    "/orgs/:org_id/memberships",
    {
      config: { permission: "org.admin" },
      schema: {
        tags: ["iam"],
        summary: "Make a user an org admin (project_admin in every project of the organization)",
        params: idParams("org_id"),
        body: {
          type: "object",
          additionalProperties: false,
          required: ["user_id"],
          properties: { user_id: idSchema },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { org_id } = request.params;
      if ((await getOrganization(db, org_id)) === undefined)
        throw new ApiError("resource.not_found", `no organization ${org_id}`);
      const membership = await inTransaction(db, async (tx) => {
        const created = await createMembership(tx, {
          user_id: request.body.user_id,
          org_id,
          role: "org_admin",
        });
        await auditRequest(tx, request, "membership.granted", `membership:${created.id}`, null, {
          user_id: created.user_id,
          role: created.role,
          org_id,
        });
        return created;
      });
      return reply.status(201).send(membership);
    },
  );

  api.get<{ Params: { org_id: string } }>(
    "/orgs/:org_id/memberships",
    {
      config: { permission: "org.admin" },
      schema: {
        tags: ["iam"],
        summary: "List the memberships of an organization and its projects",
        params: idParams("org_id"),
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({ items: await listMemberships(db, { org_id: request.params.org_id }) }),
  );

  api.delete<{ Params: { org_id: string; membership_id: string } }>(
    "/orgs/:org_id/memberships/:membership_id",
    {
      config: { permission: "org.admin" },
      schema: {
        tags: ["iam"],
        summary: "Remove a membership of the organization or one of its projects",
        params: idParams("org_id", "membership_id"),
        response: { 204: { type: "null" }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const membership = await loadMembership(
        db,
        { org_id: request.params.org_id },
        request.params.membership_id,
      );
      await inTransaction(db, async (tx) => {
        await deleteMembership(tx, membership.id);
        await auditRequest(
          tx,
          request,
          "membership.removed",
          `membership:${membership.id}`,
          membership.project_id,
          {
            user_id: membership.user_id,
            role: membership.role,
          },
        );
      });
      return reply.status(204).send();
    },
  );

  api.post<{ Body: { email: string; display_name: string; platform_role?: "platform_operator" } }>(
    "/users",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["iam"],
        summary: "Create a user",
        body: {
          type: "object",
          additionalProperties: false,
          required: ["email", "display_name"],
          properties: {
            email: emailSchema,
            display_name: displayNameSchema,
            platform_role: { type: "string", enum: ["platform_operator"] },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const user = await inTransaction(db, async (tx) => {
        const created = await createUser(tx, request.body);
        await auditRequest(tx, request, "user.created", `user:${created.id}`, null, {
          platform_role: created.platform_role,
        });
        return created;
      });
      return reply.status(201).send(user);
    },
  );

  api.post<{ Params: { user_id: string }; Body: TokenMintBody }>(
    "/users/:user_id/tokens",
    {
      config: { permission: "operator" },
      schema: {
        tags: ["iam"],
        summary: "Mint a user token; the plaintext is returned once",
        params: idParams("user_id"),
        body: tokenMintBody,
        response: { 201: tokenMintResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      if ((await getUser(db, request.params.user_id)) === undefined) {
        throw new ApiError("resource.not_found", `no user ${request.params.user_id}`);
      }
      return mintToken(context, request, reply, {
        owner: { kind: "user", user_id: request.params.user_id },
        body: request.body,
        project_id: null,
      });
    },
  );

  api.post<{ Params: { project_id: string }; Body: { user_id: string; role: ProjectRole } }>(
    "/projects/:project_id/memberships",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "Grant a user a role in the project",
        params: projectParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["user_id", "role"],
          properties: { user_id: idSchema, role: projectRoleSchema },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project_id } = request.params;
      const membership = await inTransaction(db, async (tx) => {
        const created = await createMembership(tx, {
          user_id: request.body.user_id,
          project_id,
          role: request.body.role,
        });
        await auditRequest(
          tx,
          request,
          "membership.granted",
          `membership:${created.id}`,
          project_id,
          {
            user_id: created.user_id,
            role: created.role,
          },
        );
        return created;
      });
      return reply.status(201).send(membership);
    },
  );

  api.get<{ Params: { project_id: string } }>(
    "/projects/:project_id/memberships",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["iam"],
        summary: "List the project's memberships",
        params: projectParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({
      items: await listMemberships(db, { project_id: request.params.project_id }),
    }),
  );

  api.delete<{ Params: { project_id: string; membership_id: string } }>(
    "/projects/:project_id/memberships/:membership_id",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "Remove a membership of the project",
        params: idParams("project_id", "membership_id"),
        response: { 204: { type: "null" }, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project_id, membership_id } = request.params;
      const membership = await loadMembership(db, { project_id }, membership_id);
      await inTransaction(db, async (tx) => {
        await deleteMembership(tx, membership.id);
        await auditRequest(
          tx,
          request,
          "membership.removed",
          `membership:${membership.id}`,
          project_id,
          {
            user_id: membership.user_id,
            role: membership.role,
          },
        );
      });
      return reply.status(204).send();
    },
  );

  api.post<{
    Params: { project_id: string };
    Body: { name: string; role: ProjectRole; description?: string };
  }>(
    "/projects/:project_id/service-accounts",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "Create a project service account acting with a project role",
        params: projectParams,
        body: {
          type: "object",
          additionalProperties: false,
          required: ["name", "role"],
          properties: {
            name: nameSchema,
            role: projectRoleSchema,
            description: { type: "string", maxLength: 512 },
          },
        },
        response: { 201: objectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project_id } = request.params;
      const account = await inTransaction(db, async (tx) => {
        const created = await createServiceAccount(tx, { project_id, ...request.body });
        await auditRequest(
          tx,
          request,
          "service_account.created",
          `service_account:${created.id}`,
          project_id,
          { role: created.role },
        );
        return created;
      });
      return reply.status(201).send(account);
    },
  );

  api.get<{ Params: { project_id: string } }>(
    "/projects/:project_id/service-accounts",
    {
      config: { permission: "project.read" },
      schema: {
        tags: ["iam"],
        summary: "List the project's service accounts",
        params: projectParams,
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => ({ items: await listServiceAccounts(db, request.params.project_id) }),
  );

  api.post<{ Params: { project_id: string; service_account_id: string }; Body: TokenMintBody }>(
    "/projects/:project_id/service-accounts/:service_account_id/tokens",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "Mint a service-account token; the plaintext is returned once",
        params: idParams("project_id", "service_account_id"),
        body: tokenMintBody,
        response: { 201: tokenMintResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project_id, service_account_id } = request.params;
      const account = await loadProjectServiceAccount(db, project_id, service_account_id);
      return mintToken(context, request, reply, {
        owner: { kind: "service_account", service_account_id: account.id },
        body: request.body,
        project_id,
      });
    },
  );

  api.get<{ Params: { project_id: string; service_account_id: string } }>(
    "/projects/:project_id/service-accounts/:service_account_id/tokens",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "List a service account's tokens (metadata only)",
        params: idParams("project_id", "service_account_id"),
        response: { 200: listResponse, ...errorResponses },
      },
    },
    async (request) => {
      const account = await loadProjectServiceAccount(
        db,
        request.params.project_id,
        request.params.service_account_id,
      );
      return {
        items: await listTokens(db, { kind: "service_account", service_account_id: account.id }),
      };
    },
  );

  api.post<{ Params: { project_id: string; service_account_id: string; token_id: string } }>(
    "/projects/:project_id/service-accounts/:service_account_id/tokens/:token_id/revoke",
    {
      config: { permission: "project.admin" },
      schema: {
        tags: ["iam"],
        summary: "Revoke a service-account token; its next use gets 401",
        params: idParams("project_id", "service_account_id", "token_id"),
        response: { 200: objectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { project_id, service_account_id, token_id } = request.params;
      const account = await loadProjectServiceAccount(db, project_id, service_account_id);
      const token = await getToken(db, token_id);
      if (
        token === undefined ||
        !isOwnedBy(token, { kind: "service_account", service_account_id: account.id })
      ) {
        throw new ApiError(
          "resource.not_found",
          `service account ${account.id} has no token ${token_id}`,
        );
      }
      return inTransaction(db, async (tx) => {
        const revoked = await revokeToken(tx, token.id, context.now());
        await auditRequest(tx, request, "token.revoked", `token:${token.id}`, project_id);
        return revoked;
      });
    },
  );
}
