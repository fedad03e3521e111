// Identity and access over HTTP: organizations, projects, users, memberships, service accounts and
// the token mint (seed 001, "IAM And Machine Identity"). A token's plaintext is in its mint
// response only, never in a later response, the log or the audit trail; revoked and expired
// tokens get 401 on their next use.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { listAudit } from "../src/index.js";
import { type Harness, startHarness } from "./http-harness.js";

const JSON_HEADERS = { "content-type": "application/json" };

describe("IAM routes", () => {
  let h: Harness;
  /** The harness clock; tests move it forward to expire tokens. */
  let clock = new Date("2030-01-01T00:00:00Z");
  /** Every plaintext minted through the API, checked against later responses and the log. */
  const minted: string[] = [];
  /** Bodies of every response after the mints, for the never-again check. */
  const laterBodies: string[] = [];

  before(async () => {
    h = await startHarness({ now: () => clock });
  });
  after(async () => h.close());

  async function send(
    method: "GET" | "POST" | "PUT" | "DELETE",
    url: string,
    headers: Record<string, string>,
    body?: unknown,
  ) {
    const response = await h.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: body === undefined ? headers : { ...headers, ...JSON_HEADERS },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return response;
  }

  /** A call made after tokens were minted: its body must not hold any of them. */
  async function later(
    method: "GET" | "POST" | "DELETE",
    url: string,
    headers: Record<string, string>,
    body?: unknown,
  ) {
    const response = await send(method, url, headers, body);
    laterBodies.push(response.body);
    return response;
  }

  it("GET /me names the caller, their roles and projects, and no token", async () => {
    const admin = await send("GET", "/me", h.auth("project_admin"));
    assert.equal(admin.statusCode, 200);
    const me = admin.json();
    assert.equal(me.kind, "user");
    assert.equal(me.user.email, "project_admin@acme.test");
    assert.deepEqual(
      me.projects.map((p: { id: string; role: string }) => [p.id, p.role]),
      [[h.projectId, "project_admin"]],
    );
    assert.match(me.token.fingerprint, /^[0-9a-f]{12}$/);

    const orgAdmin = (await send("GET", "/me", h.auth("org_admin"))).json();
    assert.deepEqual(orgAdmin.orgs, [{ id: h.orgId, role: "org_admin" }]);
    assert.deepEqual(
      new Set(orgAdmin.projects.map((p: { id: string }) => p.id)),
      new Set([h.projectId, h.otherProjectId]),
    );
    assert.ok(orgAdmin.projects.every((p: { role: string }) => p.role === "project_admin"));

    const account = (await send("GET", "/me", h.auth("service_account_member"))).json();
    assert.equal(account.kind, "service_account");
    assert.equal(account.service_account.role, "project_member");
    assert.deepEqual(
      account.projects.map((p: { id: string }) => p.id),
      [h.projectId],
    );

    const operator = (await send("GET", "/me", h.auth("operator"))).json();
    assert.equal(operator.platform_role, "platform_operator");

    for (const response of [
      admin.body,
      JSON.stringify(orgAdmin),
      JSON.stringify(account),
      JSON.stringify(operator),
    ]) {
      for (const token of Object.values(h.tokens))
        assert.ok(!response.includes(token), "GET /me returned a token");
      assert.doesNotMatch(response, /gpuaas_(pat|sat)_|token_hash/);
    }
  });

  it("lets an operator create an organization, a project and a user, and mint the user a token shown once", async () => {
    const org = await send("POST", "/orgs", h.auth("operator"), {
      slug: "initech",
      display_name: "Initech",
    });
    assert.equal(org.statusCode, 201);
    const orgId: string = org.json().id;
    const again = await send("POST", "/orgs", h.auth("operator"), {
      slug: "initech",
      display_name: "Initech",
    });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, "store.conflict");
    assert.ok(
      (await send("GET", "/orgs", h.auth("operator")))
        .json()
        .items.some((o: { id: string }) => o.id === orgId),
    );

    const project = await send("POST", `/orgs/${orgId}/projects`, h.auth("operator"), {
      slug: "tps",
      display_name: "TPS",
    });
    assert.equal(project.statusCode, 201);
    assert.equal(project.json().org_id, orgId);
    const missingOrg = await send(
      "POST",
      "/orgs/00000000-0000-4000-8000-000000000000/projects",
      h.auth("operator"),
      { slug: "x1", display_name: "X" },
    );
    assert.equal(missingOrg.statusCode, 404);
    assert.equal(missingOrg.json().code, "resource.not_found");

    const user = await send("POST", "/users", h.auth("operator"), {
      email: "Peter@Initech.test",
      display_name: "Peter",
    });
    assert.equal(user.statusCode, 201);
    assert.equal(user.json().email, "peter@initech.test");
    const badEmail = await send("POST", "/users", h.auth("operator"), {
      email: "not-an-email",
      display_name: "X",
    });
    assert.equal(badEmail.statusCode, 400);

    const mint = await send("POST", `/users/${user.json().id}/tokens`, h.auth("operator"), {
      name: "laptop",
      expires_in_seconds: 3600,
    });
    assert.equal(mint.statusCode, 201);
    assert.equal(mint.headers["cache-control"], "no-store");
    const { token, plaintext } = mint.json();
    assert.match(plaintext, /^gpuaas_pat_[A-Za-z0-9_-]{43}$/);
    assert.equal(token.expires_at, new Date(clock.getTime() + 3600_000).toISOString());
    assert.equal(token.token_hash, undefined);
    minted.push(plaintext);

    // The new user signs in with it, and sees no project yet.
    const me = await later("GET", "/me", { authorization: `Bearer ${plaintext}` });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.email, "peter@initech.test");
    assert.deepEqual(me.json().projects, []);
  });

  it("bounds token lifetimes and names", async () => {
    const accounts = (
      await send("GET", `/projects/${h.projectId}/service-accounts`, h.auth("project_admin"))
    ).json();
    const accountId: string = accounts.items[0].id;
    const url = `/projects/${h.projectId}/service-accounts/${accountId}/tokens`;
    for (const body of [
      { name: "short", expires_in_seconds: 59 },
      { name: "long", expires_in_seconds: 365 * 24 * 3600 + 1 },
      { name: "fraction", expires_in_seconds: 120.5 },
      { name: "" },
      { name: "x".repeat(65) },
      { name: "ok", extra: true },
      {},
    ]) {
      const response = await send("POST", url, h.auth("project_admin"), body);
      assert.equal(response.statusCode, 400, JSON.stringify(body));
      assert.equal(response.json().code, "request.invalid");
    }
  });

  it("mints, lists and revokes service-account tokens (the seed's service-account token mint)", async () => {
    const created = await send(
      "POST",
      `/projects/${h.projectId}/service-accounts`,
      h.auth("project_admin"),
      { name: "deployer", role: "project_viewer" },
    );
    assert.equal(created.statusCode, 201);
    const accountId: string = created.json().id;
    const mint = await send(
      "POST",
      `/projects/${h.projectId}/service-accounts/${accountId}/tokens`,
      h.auth("project_admin"),
      { name: "ci" },
    );
    assert.equal(mint.statusCode, 201);
    const { token, plaintext } = mint.json();
    assert.match(plaintext, /^gpuaas_sat_/);
    // With no lifetime asked for, the token still expires (90 days).
    assert.equal(token.expires_at, new Date(clock.getTime() + 90 * 24 * 3600_000).toISOString());
    minted.push(plaintext);
    const bearer = { authorization: `Bearer ${plaintext}` };

    // The service account acts with its own role: it reads, and may not administer.
    assert.equal(
      (await later("GET", `/projects/${h.projectId}/memberships`, bearer)).statusCode,
      200,
    );
    const denied = await later("POST", `/projects/${h.projectId}/service-accounts`, bearer, {
      name: "x",
      role: "project_admin",
    });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, "auth.forbidden");
    assert.equal(
      (await later("GET", `/projects/${h.otherProjectId}/memberships`, bearer)).statusCode,
      403,
    );

    const list = await later(
      "GET",
      `/projects/${h.projectId}/service-accounts/${accountId}/tokens`,
      h.auth("org_admin"),
    );
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list.json().items.map((item: { id: string }) => item.id),
      [token.id],
    );
    assert.equal(list.json().items[0].plaintext, undefined);

    const revoke = await later(
      "POST",
      `/projects/${h.projectId}/service-accounts/${accountId}/tokens/${token.id}/revoke`,
      h.auth("project_admin"),
    );
    assert.equal(revoke.statusCode, 200);
    assert.equal(revoke.json().revoked_at, clock.toISOString());
    const refused = await later("GET", `/projects/${h.projectId}/memberships`, bearer);
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, "auth.invalid_token");

    // A mint and a revocation each leave an audit record, without the secret.
    const audit = await listAudit(h.store.db, { project_id: h.projectId });
    const actions = audit.items
      .filter((entry) => entry.target === `token:${token.id}`)
      .map((entry) => entry.action);
    assert.deepEqual(actions, ["token.minted", "token.revoked"]);
    assert.ok(!JSON.stringify(audit.items).includes(plaintext));
  });

  it("keeps service accounts and their tokens inside their project", async () => {
    // An admin of the other project creates an account there; this project's admin cannot reach it.
    const foreign = await send(
      "POST",
      `/projects/${h.otherProjectId}/service-accounts`,
      h.auth("other_project_member"),
      { name: "theirs", role: "project_admin" },
    );
    assert.equal(foreign.statusCode, 201);
    const foreignId: string = foreign.json().id;
    const mintForeign = await send(
      "POST",
      `/projects/${h.projectId}/service-accounts/${foreignId}/tokens`,
      h.auth("project_admin"),
      { name: "steal" },
    );
    assert.equal(mintForeign.statusCode, 404);
    assert.equal(mintForeign.json().code, "resource.not_found");
    const listForeign = await send(
      "GET",
      `/projects/${h.projectId}/service-accounts/${foreignId}/tokens`,
      h.auth("project_admin"),
    );
    assert.equal(listForeign.statusCode, 404);

    const theirToken = await send(
      "POST",
      `/projects/${h.otherProjectId}/service-accounts/${foreignId}/tokens`,
      h.auth("other_project_member"),
      { name: "theirs" },
    );
    assert.equal(theirToken.statusCode, 201);
    minted.push(theirToken.json().plaintext);
    const ours = (
      await send("GET", `/projects/${h.projectId}/service-accounts`, h.auth("project_admin"))
    ).json().items[0].id as string;
    // A token id of another account cannot be revoked through this project's account.
    const crossRevoke = await later(
      "POST",
      `/projects/${h.projectId}/service-accounts/${ours}/tokens/${theirToken.json().token.id}/revoke`,
      h.auth("project_admin"),
    );
    assert.equal(crossRevoke.statusCode, 404);
    const stillWorks = await later("GET", `/projects/${h.otherProjectId}/memberships`, {
      authorization: `Bearer ${theirToken.json().plaintext}`,
    });
    assert.equal(stillWorks.statusCode, 200);
  });

  it("grants, lists and removes project memberships within the project only", async () => {
    const user = (
      await send("POST", "/users", h.auth("operator"), {
        email: "milton@acme.test",
        display_name: "Milton",
      })
    ).json();
    const grant = await send(
      "POST",
      `/projects/${h.projectId}/memberships`,
      h.auth("project_admin"),
      { user_id: user.id, role: "project_viewer" },
    );
    assert.equal(grant.statusCode, 201);
    assert.equal(grant.json().project_id, h.projectId);
    const twice = await send(
      "POST",
      `/projects/${h.projectId}/memberships`,
      h.auth("project_admin"),
      { user_id: user.id, role: "project_member" },
    );
    assert.equal(twice.statusCode, 409);
    const escalate = await send(
      "POST",
      `/projects/${h.projectId}/memberships`,
      h.auth("project_admin"),
      { user_id: user.id, role: "org_admin" },
    );
    assert.equal(escalate.statusCode, 400);
    const unknownUser = await send(
      "POST",
      `/projects/${h.projectId}/memberships`,
      h.auth("project_admin"),
      {
        user_id: "00000000-0000-4000-8000-000000000000",
        role: "project_viewer",
      },
    );
    assert.equal(unknownUser.statusCode, 422);
    assert.equal(unknownUser.json().code, "store.invalid_reference");

    const list = await send(
      "GET",
      `/projects/${h.projectId}/memberships`,
      h.auth("project_viewer"),
    );
    assert.ok(list.json().items.some((m: { id: string }) => m.id === grant.json().id));

    // The other project's admin cannot remove it through their own project.
    const cross = await send(
      "DELETE",
      `/projects/${h.otherProjectId}/memberships/${grant.json().id}`,
      h.auth("other_project_member"),
    );
    assert.equal(cross.statusCode, 404);
    const removed = await send(
      "DELETE",
      `/projects/${h.projectId}/memberships/${grant.json().id}`,
      h.auth("project_admin"),
    );
    assert.equal(removed.statusCode, 204);
    const gone = await send(
      "DELETE",
      `/projects/${h.projectId}/memberships/${grant.json().id}`,
      h.auth("project_admin"),
    );
    assert.equal(gone.statusCode, 404);
  });

  it("lets an org admin list projects and manage org admins of their organization only", async () => {
    const projects = await send("GET", `/orgs/${h.orgId}/projects`, h.auth("org_admin"));
    assert.equal(projects.statusCode, 200);
    assert.deepEqual(
      new Set(projects.json().items.map((p: { id: string }) => p.id)),
      new Set([h.projectId, h.otherProjectId]),
    );

    const user = (
      await send("POST", "/users", h.auth("operator"), {
        email: "bill@acme.test",
        display_name: "Bill",
      })
    ).json();
    const grant = await send("POST", `/orgs/${h.orgId}/memberships`, h.auth("org_admin"), {
      user_id: user.id,
    });
    assert.equal(grant.statusCode, 201);
    assert.equal(grant.json().role, "org_admin");
    const listed = await send("GET", `/orgs/${h.orgId}/memberships`, h.auth("org_admin"));
    assert.ok(listed.json().items.some((m: { id: string }) => m.id === grant.json().id));
    const removed = await send(
      "DELETE",
      `/orgs/${h.orgId}/memberships/${grant.json().id}`,
      h.auth("org_admin"),
    );
    assert.equal(removed.statusCode, 204);

    const service = await send(
      "GET",
      `/orgs/${h.orgId}/projects`,
      h.auth("service_account_member"),
    );
    assert.equal(service.statusCode, 403);
    assert.equal(service.json().code, "auth.forbidden");
  });

  it("lets a user list and revoke their own tokens only; a revoked token gets 401", async () => {
    const mint = await send("POST", "/users", h.auth("operator"), {
      email: "samir@acme.test",
      display_name: "Samir",
    });
    const userId: string = mint.json().id;
    const first = (
      await send("POST", `/users/${userId}/tokens`, h.auth("operator"), { name: "one" })
    ).json();
    const second = (
      await send("POST", `/users/${userId}/tokens`, h.auth("operator"), { name: "two" })
    ).json();
    minted.push(first.plaintext, second.plaintext);
    const asFirst = { authorization: `Bearer ${first.plaintext}` };
    const mine = await later("GET", "/me/tokens", asFirst);
    assert.deepEqual(
      mine.json().items.map((t: { name: string }) => t.name),
      ["one", "two"],
    );

    // Someone else's token id is not found, not revoked.
    const others = await later(
      "POST",
      `/me/tokens/${second.token.id}/revoke`,
      h.auth("project_member"),
    );
    assert.equal(others.statusCode, 404);

    const revoke = await later("POST", `/me/tokens/${second.token.id}/revoke`, asFirst);
    assert.equal(revoke.statusCode, 200);
    const refused = await later("GET", "/me", { authorization: `Bearer ${second.plaintext}` });
    assert.equal(refused.statusCode, 401);
    assert.equal(refused.json().code, "auth.invalid_token");
    assert.equal((await later("GET", "/me", asFirst)).statusCode, 200);
  });

  it("refuses an expired token with 401 auth.invalid_token", async () => {
    const user = (
      await send("POST", "/users", h.auth("operator"), {
        email: "joanna@acme.test",
        display_name: "Joanna",
      })
    ).json();
    const mint = (
      await send("POST", `/users/${user.id}/tokens`, h.auth("operator"), {
        name: "short",
        expires_in_seconds: 60,
      })
    ).json();
    minted.push(mint.plaintext);
    const bearer = { authorization: `Bearer ${mint.plaintext}` };
    assert.equal((await later("GET", "/me", bearer)).statusCode, 200);
    clock = new Date(clock.getTime() + 60_000);
    const expired = await later("GET", "/me", bearer);
    assert.equal(expired.statusCode, 401);
    assert.equal(expired.json().code, "auth.invalid_token");
    assert.match(String(expired.headers["www-authenticate"]), /^Bearer/);
  });

  it("never returns a minted token after its mint, and logs callers only as token:<fp6>", async () => {
    assert.ok(minted.length >= 6);
    // Every list endpoint, read by the operator who sees the most.
    for (const url of [
      "/me",
      "/me/tokens",
      "/orgs",
      `/orgs/${h.orgId}/projects`,
      `/orgs/${h.orgId}/memberships`,
      `/projects/${h.projectId}/memberships`,
      `/projects/${h.projectId}/service-accounts`,
    ]) {
      laterBodies.push((await send("GET", url, h.auth("operator"))).body);
    }
    for (const account of (
      await send("GET", `/projects/${h.projectId}/service-accounts`, h.auth("operator"))
    ).json().items) {
      laterBodies.push(
        (
          await send(
            "GET",
            `/projects/${h.projectId}/service-accounts/${account.id}/tokens`,
            h.auth("operator"),
          )
        ).body,
      );
    }
    const bodies = laterBodies.join("\n");
    for (const secret of [...minted, ...Object.values(h.tokens)])
      assert.ok(!bodies.includes(secret), "a token came back after its mint");
    assert.doesNotMatch(bodies, /gpuaas_(pat|sat)_/);

    const log = h.logs.join("\n");
    for (const secret of [...minted, ...Object.values(h.tokens)])
      assert.ok(!log.includes(secret), "a token reached the log");
    assert.doesNotMatch(log, /gpuaas_(pat|sat)_|[Bb]earer /);
    const identities = new Set([...log.matchAll(/"identity":"([^"]*)"/g)].map((match) => match[1]));
    assert.ok(identities.size > 1);
    for (const identity of identities) assert.match(identity ?? "", /^token:[0-9a-f]{6}$/);

    const audit = JSON.stringify((await listAudit(h.store.db, { limit: 500 })).items);
    for (const secret of minted)
      assert.ok(!audit.includes(secret), "a token reached the audit log");
  });
});
