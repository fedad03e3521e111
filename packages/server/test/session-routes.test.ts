import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness } from "./http-harness.js";

function cookieOf(setCookie: string | string[] | undefined): string {
  const value = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  assert.ok(value, "a Set-Cookie header");
  return value.split(";")[0] ?? "";
}

describe("browser sessions", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it("trade a user token for an HttpOnly, SameSite=Strict cookie that is not the token", async () => {
    const response = await h.app.inject({
      method: "POST",
      url: "/api/v1/sessions",
      payload: { token: h.tokens.project_member },
    });
    assert.equal(response.statusCode, 201);
    const header = String(response.headers["set-cookie"]);
    assert.match(header, /HttpOnly/);
    assert.match(header, /SameSite=Strict/);
    assert.ok(
      !header.includes(h.tokens.project_member),
      "the cookie is a session token of its own",
    );
    assert.ok(!response.body.includes(h.tokens.project_member));
    const me = await h.app.inject({
      method: "GET",
      url: "/api/v1/me",
      headers: { cookie: cookieOf(response.headers["set-cookie"]) },
    });
    assert.equal(me.statusCode, 200);
    assert.equal(me.json().user.email, "project_member@acme.test");
  });

  it("refuse unknown and service-account tokens", async () => {
    const unknown = await h.app.inject({
      method: "POST",
      url: "/api/v1/sessions",
      payload: { token: "gpuaas_pat_nope" },
    });
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.json().code, "auth.invalid_token");
    const account = await h.app.inject({
      method: "POST",
      url: "/api/v1/sessions",
      payload: { token: h.tokens.service_account_member },
    });
    assert.equal(account.statusCode, 403);
    assert.equal(account.json().code, "auth.session_needs_user");
  });

  it("require the CSRF header on state-changing requests made with the cookie", async () => {
    const signIn = await h.app.inject({
      method: "POST",
      url: "/api/v1/sessions",
      payload: { token: h.tokens.project_admin },
    });
    const cookie = cookieOf(signIn.headers["set-cookie"]);
    const url = `/api/v1/projects/${h.projectId}/service-accounts`;
    const forged = await h.app.inject({
      method: "POST",
      url,
      headers: { cookie },
      payload: { name: "bot", role: "project_viewer" },
    });
    assert.equal(forged.statusCode, 403);
    assert.equal(forged.json().code, "auth.csrf_required");
    const real = await h.app.inject({
      method: "POST",
      url,
      headers: { cookie, "x-gpuaas-csrf": "1" },
      payload: { name: "bot", role: "project_viewer" },
    });
    assert.notEqual(real.json().code, "auth.csrf_required");
    assert.ok(real.statusCode < 400, real.body);
  });

  it("sign out revokes the session token and clears the cookie", async () => {
    const signIn = await h.app.inject({
      method: "POST",
      url: "/api/v1/sessions",
      payload: { token: h.tokens.project_viewer },
    });
    const cookie = cookieOf(signIn.headers["set-cookie"]);
    const out = await h.app.inject({
      method: "DELETE",
      url: "/api/v1/sessions/current",
      headers: { cookie, "x-gpuaas-csrf": "1" },
    });
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers["set-cookie"]), /Max-Age=0/);
    const after = await h.app.inject({ method: "GET", url: "/api/v1/me", headers: { cookie } });
    assert.equal(after.statusCode, 401);
    const stillValid = await h.app.inject({
      method: "GET",
      url: "/api/v1/me",
      headers: h.auth("project_viewer"),
    });
    assert.equal(stillValid.statusCode, 200, "signing out leaves the user's own token alone");
  });
});

describe("audit log", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it("records who did what, readable by project admins with a cursor", async () => {
    const created = await h.app.inject({
      method: "POST",
      url: `/api/v1/projects/${h.projectId}/service-accounts`,
      headers: { ...h.auth("project_admin"), "x-correlation-id": "audit-1" },
      payload: { name: "robot", role: "project_viewer" },
    });
    assert.equal(created.statusCode, 201, created.body);
    const page = await h.app.inject({
      method: "GET",
      url: `/api/v1/projects/${h.projectId}/audit?limit=1`,
      headers: h.auth("project_admin"),
    });
    assert.equal(page.statusCode, 200);
    const body = page.json() as {
      items: { correlation_id: string; actor: string }[];
      next_cursor: string | null;
    };
    assert.equal(body.items.length, 1);
    const all = await h.app.inject({
      method: "GET",
      url: `/api/v1/projects/${h.projectId}/audit`,
      headers: h.auth("project_admin"),
    });
    const entry = (
      all.json() as { items: { correlation_id: string; actor: string; action: string }[] }
    ).items.find((item) => item.correlation_id === "audit-1");
    assert.ok(entry, "the service-account creation is audited under its correlation id");
    assert.match(entry.actor, /^user:/);
    const viewer = await h.app.inject({
      method: "GET",
      url: `/api/v1/projects/${h.projectId}/audit`,
      headers: h.auth("project_viewer"),
    });
    assert.equal(viewer.statusCode, 403);
  });
});
