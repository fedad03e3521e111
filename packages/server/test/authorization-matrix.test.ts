// The authorization matrix: every route the app registers, called by every role in ROLES and
// without a token, must allow exactly the callers its row in ROUTE_PERMISSIONS names. The table
// states each expectation on its own — it is never read from the route's `config` — so a route
// registered with a weaker permission than intended fails here, and a route added without a row
// fails the coverage test below.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import {
  createBootstrapToken,
  createNode,
  createOrganization,
  redeemBootstrapToken,
} from "../src/index.js";
import { type Harness, ROLES, type Role, startHarness } from "./http-harness.js";

/** What a caller must hold for a route, as this test expects it. */
type Expectation =
  | "public"
  | "authenticated"
  | "operator"
  | "org.admin"
  | "project.read"
  | "project.operate"
  | "project.admin"
  | "node"
  | "registry_pull";

/** A caller of the matrix: a role of the harness, a node agent's credential, or no token at all. */
type Caller = Role | "anonymous" | "node";

/**
 * The one place that says who passes which expectation, for the harness's organization and its
 * first project. `org_admin` administers every project of its organization; the service account
 * is a `project_member`; `other_project_member` is admin of another project only.
 */
const ALLOWED: Record<Expectation, readonly Caller[]> = {
  public: ["anonymous", ...ROLES, "node"],
  authenticated: ROLES,
  operator: ["operator"],
  "org.admin": ["operator", "org_admin"],
  "project.read": [
    "operator",
    "org_admin",
    "project_admin",
    "project_member",
    "project_viewer",
    "service_account_member",
  ],
  "project.operate": [
    "operator",
    "org_admin",
    "project_admin",
    "project_member",
    "service_account_member",
  ],
  "project.admin": ["operator", "org_admin", "project_admin"],
  // Agent routes: a node credential, and nothing else passes; a node credential passes nothing else.
  node: ["node"],
  // The registry token endpoint takes a task's pull credential (HTTP Basic) and no bearer token.
  registry_pull: [],
};

/**
 * Every route and the least a caller needs for it. HEAD routes Fastify adds for each GET follow
 * their GET row. Add a row when you add a route: the coverage test fails until you do.
 */
const ROUTE_PERMISSIONS: Readonly<Record<string, Expectation>> = {
  // Foundation
  "GET /api/v1/healthz": "public",
  "GET /api/v1/openapi.json": "public",
  // The web console: its built files at / and index.html for every other non-API path.
  "GET /": "public",
  "GET /*": "public",

  // Catalog and entitlements
  "GET /api/v1/apps/catalog": "authenticated",
  "GET /api/v1/apps/catalog/:slug/versions": "authenticated",
  "POST /api/v1/apps/catalog/:slug/versions": "operator",
  "POST /api/v1/apps/catalog/:slug/versions/:version/publication": "operator",
  "GET /api/v1/projects/:project_id/apps/entitlements": "project.read",
  "PUT /api/v1/projects/:project_id/apps/entitlements/:slug": "operator",

  // Artifacts: operators register, verify and move them; anyone signed in lists the launchable ones.
  "POST /api/v1/apps/catalog/:slug/versions/:version/artifacts": "operator",
  "GET /api/v1/apps/catalog/:slug/versions/:version/artifacts": "authenticated",
  "GET /api/v1/artifacts/:artifact_id": "operator",
  "POST /api/v1/artifacts/:artifact_id/verify": "operator",
  "POST /api/v1/artifacts/:artifact_id/transitions": "operator",

  // Nodes and allocations: operator-registered; project members read their own project's allocations.
  "POST /api/v1/nodes": "operator",
  "GET /api/v1/nodes": "operator",
  "GET /api/v1/nodes/:node_id": "operator",
  "POST /api/v1/nodes/:node_id/transitions": "operator",
  "POST /api/v1/nodes/:node_id/bootstrap-tokens": "operator",
  "POST /api/v1/allocations": "operator",
  "GET /api/v1/allocations": "operator",
  "GET /api/v1/allocations/:allocation_id": "operator",
  "POST /api/v1/allocations/:allocation_id/transitions": "operator",
  "GET /api/v1/projects/:project_id/allocations": "project.read",
  "GET /api/v1/projects/:project_id/allocations/:allocation_id": "project.read",

  // App instances: viewers read, members launch and operate.
  "POST /api/v1/projects/:project_id/app-instances": "project.operate",
  "GET /api/v1/projects/:project_id/app-instances": "project.read",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id": "project.read",
  "DELETE /api/v1/projects/:project_id/app-instances/:instance_id": "project.operate",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id/members": "project.read",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id/events": "project.read",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/actions": "project.operate",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/decommission": "project.operate",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/upgrade": "project.operate",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/rollback": "project.operate",

  // Audit log: project admins read their project's, operators the platform's.
  "GET /api/v1/projects/:project_id/audit": "project.admin",
  "GET /api/v1/audit": "operator",

  // Browser sessions: signing in needs only a token in the body; signing out, a session or token.
  "POST /api/v1/sessions": "public",
  "DELETE /api/v1/sessions/current": "authenticated",

  // Node agents (dial-out): register with a bootstrap token in the body, then the node credential.
  "POST /api/v1/agent/register": "public",
  "POST /api/v1/agent/heartbeat": "node",
  "POST /api/v1/agent/leases": "node",
  "POST /api/v1/agent/tasks/:task_id/extend": "node",
  "POST /api/v1/agent/tasks/:task_id/result": "node",
  "POST /api/v1/agent/inventory/containers": "node",
  "GET /api/v1/registry/token": "registry_pull",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id/logs": "project.read",

  // Identity and access
  "GET /api/v1/me": "authenticated",
  "GET /api/v1/me/tokens": "authenticated",
  "POST /api/v1/me/tokens/:token_id/revoke": "authenticated",
  "POST /api/v1/orgs": "operator",
  "GET /api/v1/orgs": "operator",
  "POST /api/v1/orgs/:org_id/projects": "operator",
  "GET /api/v1/orgs/:org_id/projects": "org.admin",
  "POST /api/v1/orgs/:org_id/memberships": "org.admin",
  "GET /api/v1/orgs/:org_id/memberships": "org.admin",
  "DELETE /api/v1/orgs/:org_id/memberships/:membership_id": "org.admin",
  "POST /api/v1/users": "operator",
  "POST /api/v1/users/:user_id/tokens": "operator",
  "POST /api/v1/projects/:project_id/memberships": "project.admin",
  "GET /api/v1/projects/:project_id/memberships": "project.read",
  "DELETE /api/v1/projects/:project_id/memberships/:membership_id": "project.admin",
  "POST /api/v1/projects/:project_id/service-accounts": "project.admin",
  "GET /api/v1/projects/:project_id/service-accounts": "project.read",
  "POST /api/v1/projects/:project_id/service-accounts/:service_account_id/tokens": "project.admin",
  "GET /api/v1/projects/:project_id/service-accounts/:service_account_id/tokens": "project.admin",
  "POST /api/v1/projects/:project_id/service-accounts/:service_account_id/tokens/:token_id/revoke":
    "project.admin",

  // Managed ingress: the edge's forward auth and the assertion keys do their own auth (public);
  // a signed-in user asks for a sign-in ticket; endpoints, API keys and routes follow the project.
  "GET /api/v1/ingress/forward-auth": "public",
  "GET /.well-known/jwks.json": "public",
  "POST /api/v1/ingress/tickets": "authenticated",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id/endpoints": "project.read",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys":
    "project.operate",
  "GET /api/v1/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys":
    "project.read",
  "POST /api/v1/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys/:key_id/rotate":
    "project.operate",
  "DELETE /api/v1/projects/:project_id/app-instances/:instance_id/endpoints/:endpoint/api-keys/:key_id":
    "project.operate",
  "GET /api/v1/projects/:project_id/routes": "project.read",
  "GET /api/v1/routes": "operator",
};

/** A well-formed id that names nothing, so an allowed call ends in 404/4xx and changes nothing. */
const DUMMY_ID = "00000000-0000-4000-8000-000000000000";

/** The codes that mean "the caller was not let through". */
const DENIAL_CODES = new Set(["auth.missing_token", "auth.invalid_token", "auth.forbidden"]);

/** A route as the router holds it. */
interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
}

/**
 * Every (method, path) the router holds, read from `printRoutes({commonPrefix: false})`: each
 * line is a path segment indented four columns per level, with its methods in parentheses.
 */
function collectRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const segments: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (match === null) continue;
    const depth = (match[1] ?? "").length / 4;
    segments.length = depth;
    segments.push(match[2] ?? "");
    for (const method of match[3]?.split(", ") ?? [])
      routes.push({ method, url: segments.join("") });
  }
  return routes;
}

/** The table row for a route; HEAD follows GET. */
function toKey(route: RegisteredRoute): string {
  return `${route.method === "HEAD" ? "GET" : route.method} ${route.url}`;
}

describe("authorization matrix", () => {
  let h: Harness;
  let routes: RegisteredRoute[];
  /** An organization the harness's org admin has no role in. */
  let foreignOrgId: string;
  /** A node agent's credential. */
  let nodeCredential: string;

  before(async () => {
    h = await startHarness();
    routes = collectRoutes(h.app);
    foreignOrgId = (
      await createOrganization(h.store.db, { slug: "globex", display_name: "Globex" })
    ).id;
    const node = await createNode(h.store.db, { name: "matrix-node" });
    const bootstrap = await createBootstrapToken(h.store.db, { node_id: node.id, ttl_ms: 60_000 });
    const enrollment = await redeemBootstrapToken(h.store.db, bootstrap.plaintext);
    if (enrollment === undefined) throw new Error("could not enroll the matrix node");
    nodeCredential = enrollment.credential;
  });
  after(async () => h.close());

  it("reads the routes the router really holds", () => {
    assert.ok(
      routes.length >= Object.keys(ROUTE_PERMISSIONS).length / 2,
      "the route listing parsed to almost nothing",
    );
    for (const route of routes) {
      assert.ok(
        h.app.hasRoute({ method: route.method as "GET", url: route.url }),
        `parsed a route the app lacks: ${route.method} ${route.url}`,
      );
    }
    assert.ok(
      routes.some((route) => route.method === "GET" && route.url === "/api/v1/apps/catalog"),
    );
  });

  it("has a row for every registered route, and no row for a route that is gone", () => {
    const registered = new Set(routes.map(toKey));
    const missing = [...registered].filter((key) => ROUTE_PERMISSIONS[key] === undefined).sort();
    const stale = Object.keys(ROUTE_PERMISSIONS)
      .filter((key) => !registered.has(key))
      .sort();
    assert.deepEqual(
      missing,
      [],
      `routes without a row in ROUTE_PERMISSIONS:\n  ${missing.join("\n  ")}`,
    );
    assert.deepEqual(
      stale,
      [],
      `rows for routes the app does not register:\n  ${stale.join("\n  ")}`,
    );
  });

  /** Calls a route as `caller`, with real ids for the organization and project. */
  async function call(
    route: RegisteredRoute,
    caller: Caller,
    ids: { readonly project_id: string; readonly org_id: string },
  ): Promise<{ status: number; code: string | undefined }> {
    const values: Record<string, string> = {
      ...ids,
      slug: "no-such-app",
      app_slug: "no-such-app",
      version: "0.0.0-none",
    };
    const url = route.url.replace(
      /:([A-Za-z_]+)/g,
      (_whole, name: string) => values[name] ?? DUMMY_ID,
    );
    const withBody = route.method === "POST" || route.method === "PUT" || route.method === "PATCH";
    const response = await h.app.inject({
      method: route.method as "GET",
      url,
      headers: {
        ...(caller === "anonymous"
          ? {}
          : caller === "node"
            ? { authorization: `Bearer ${nodeCredential}` }
            : h.auth(caller)),
        ...(withBody ? { "content-type": "application/json" } : {}),
      },
      ...(withBody ? { payload: "{}" } : {}),
    });
    let code: string | undefined;
    if (route.method !== "HEAD" && response.body.length > 0) {
      try {
        code = (response.json() as { code?: unknown }).code as string | undefined;
      } catch {
        code = undefined;
      }
    }
    return { status: response.statusCode, code: typeof code === "string" ? code : undefined };
  }

  /** Why an outcome breaks the expectation, or undefined when it holds. */
  function judge(
    route: RegisteredRoute,
    caller: Caller,
    allowed: boolean,
    outcome: { status: number; code: string | undefined },
  ): string | undefined {
    const head = route.method === "HEAD";
    const seen = `${outcome.status} ${outcome.code ?? "-"}`;
    if (outcome.status >= 500) return `${caller}: got ${seen}, never a 5xx`;
    if (allowed) {
      const refused =
        outcome.status === 401 ||
        (head ? outcome.status === 403 : DENIAL_CODES.has(outcome.code ?? ""));
      return refused ? `${caller}: should be let through, got ${seen}` : undefined;
    }
    // No bearer token of any kind is a pull credential: the token endpoint answers 401.
    if (ROUTE_PERMISSIONS[toKey(route)] === "registry_pull" && caller !== "anonymous") {
      return outcome.status === 401 && (head || outcome.code === "auth.invalid_token")
        ? undefined
        : `${caller}: should get 401 auth.invalid_token, got ${seen}`;
    }
    if (caller === "anonymous") {
      return outcome.status === 401 && (head || outcome.code === "auth.missing_token")
        ? undefined
        : `anonymous: should get 401 auth.missing_token, got ${seen}`;
    }
    return outcome.status === 403 && (head || outcome.code === "auth.forbidden")
      ? undefined
      : `${caller}: should get 403 auth.forbidden, got ${seen}`;
  }

  it("lets each route's callers through and refuses everyone else, with the coded body", async (t) => {
    const callers: readonly Caller[] = ["anonymous", ...ROLES, "node"];
    const failures: string[] = [];
    let cells = 0;
    for (const route of routes) {
      const expectation = ROUTE_PERMISSIONS[toKey(route)];
      if (expectation === undefined) continue; // reported by the coverage test
      const problems: string[] = [];
      for (const caller of callers) {
        cells += 1;
        const allowed = ALLOWED[expectation].includes(caller);
        const problem = judge(
          route,
          caller,
          allowed,
          await call(route, caller, { project_id: h.projectId, org_id: h.orgId }),
        );
        if (problem !== undefined) problems.push(problem);
      }
      // Refusals are about the scope, not the role: the other project's admin passes there.
      if (expectation.startsWith("project.")) {
        const outcome = await call(route, "other_project_member", {
          project_id: h.otherProjectId,
          org_id: h.orgId,
        });
        const problem = judge(route, "other_project_member", true, outcome);
        if (problem !== undefined) problems.push(`${problem} (in their own project)`);
      }
      // An org admin administers their own organization only.
      if (expectation === "org.admin") {
        for (const caller of ["org_admin", "operator"] as const) {
          const outcome = await call(route, caller, {
            project_id: h.projectId,
            org_id: foreignOrgId,
          });
          const problem = judge(route, caller, caller === "operator", outcome);
          if (problem !== undefined) problems.push(`${problem} (in another organization)`);
        }
      }
      if (problems.length > 0)
        failures.push(
          `${route.method} ${route.url} [${expectation}]\n    ${problems.join("\n    ")}`,
        );
    }
    t.diagnostic(
      `${routes.length} routes (HEAD included) × ${callers.length} callers = ${cells} cells`,
    );
    assert.deepEqual(failures, [], `authorization matrix failures:\n  ${failures.join("\n  ")}`);
  });

  it("refuses an unknown token on every non-public route with 401 auth.invalid_token", async () => {
    const failures: string[] = [];
    for (const route of routes) {
      if (route.method === "HEAD" || ROUTE_PERMISSIONS[toKey(route)] === "public") continue;
      const url = route.url.replace(/:([A-Za-z_]+)/g, (_whole, name: string) =>
        name === "project_id" ? h.projectId : name === "org_id" ? h.orgId : DUMMY_ID,
      );
      const response = await h.app.inject({
        method: route.method as "GET",
        url,
        headers: { authorization: "Bearer gpuaas_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
      });
      if (response.statusCode !== 401 || response.json().code !== "auth.invalid_token") {
        failures.push(
          `${route.method} ${route.url}: ${response.statusCode} ${response.body.slice(0, 80)}`,
        );
      }
    }
    assert.deepEqual(failures, []);
  });
});
