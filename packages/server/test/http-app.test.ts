import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness } from "./http-harness.js";

describe("HTTP API foundation", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it("serves health and the OpenAPI 3.1 document without a token", async () => {
    const health = await h.app.inject({ method: "GET", url: "/api/v1/healthz" });
    assert.equal(health.statusCode, 200);
    const doc = await h.app.inject({ method: "GET", url: "/api/v1/openapi.json" });
    assert.equal(doc.statusCode, 200);
    const openapi = doc.json() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(openapi.openapi, "3.1.0");
    assert.ok(openapi.paths["/api/v1/apps/catalog"]);
  });

  it("refuses a missing or unknown token with 401, WWW-Authenticate and the error body", async () => {
    const missing = await h.app.inject({ method: "GET", url: "/api/v1/apps/catalog" });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json().code, "auth.missing_token");
    assert.match(String(missing.headers["www-authenticate"]), /^Bearer/);
    const unknown = await h.app.inject({
      method: "GET",
      url: "/api/v1/apps/catalog",
      headers: { authorization: "Bearer gpuaas_u_nope" },
    });
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.json().code, "auth.invalid_token");
  });

  it("echoes a valid correlation id and mints one otherwise", async () => {
    const echoed = await h.app.inject({
      method: "GET",
      url: "/api/v1/healthz",
      headers: { "x-correlation-id": "req-abc.1" },
    });
    assert.equal(echoed.headers["x-correlation-id"], "req-abc.1");
    const minted = await h.app.inject({
      method: "GET",
      url: "/api/v1/healthz",
      headers: { "x-correlation-id": "bad id with spaces" },
    });
    assert.match(String(minted.headers["x-correlation-id"]), /^[0-9a-f-]{36}$/);
    const error = await h.app.inject({
      method: "GET",
      url: "/api/v1/nope",
      headers: { "x-correlation-id": "c-404" },
    });
    assert.equal(error.statusCode, 404);
    assert.deepEqual(Object.keys(error.json()).sort(), ["code", "correlation_id", "message"]);
    assert.equal(error.json().correlation_id, "c-404");
  });

  it("answers malformed JSON, unknown fields and wrong media types with 4xx codes", async () => {
    const url = `/api/v1/apps/catalog/jupyterlab/versions`;
    const headers = { ...h.auth("operator"), "content-type": "application/json" };
    const malformed = await h.app.inject({ method: "POST", url, headers, payload: "{nope" });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, "request.malformed_json");
    const unknown = await h.app.inject({
      method: "POST",
      url,
      headers,
      payload: JSON.stringify({ version: "1", manifest: {}, extra: 1 }),
    });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, "request.invalid");
    assert.ok(
      unknown.json().issues.some((issue: { pointer: string }) => issue.pointer === "/body/extra"),
    );
    const media = await h.app.inject({
      method: "POST",
      url,
      headers: { ...h.auth("operator"), "content-type": "text/plain" },
      payload: "x",
    });
    assert.equal(media.statusCode, 415);
    assert.equal(media.json().code, "request.unsupported_media_type");
  });

  it("never logs a token, only token:<fp6>", async () => {
    await h.app.inject({
      method: "GET",
      url: "/api/v1/apps/catalog",
      headers: h.auth("project_member"),
    });
    const text = h.logs.join("\n");
    for (const token of Object.values(h.tokens))
      assert.ok(!text.includes(token), "a token reached the log");
    assert.match(text, /"identity":"token:[0-9a-f]{6}"/);
  });
});

describe("catalog listing", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it("lists published versions to users and every version to operators, without manifests", async () => {
    const { readFileSync } = await import("node:fs");
    const YAML = (await import("yaml")).default;
    const manifest = YAML.parse(
      readFileSync(new URL("../../../profiles/jupyterlab.yaml", import.meta.url), "utf8"),
    );
    const headers = { ...h.auth("operator"), "content-type": "application/json" };
    const url = "/api/v1/apps/catalog/jupyterlab/versions";
    for (const [version, published] of [
      ["1.0.0", true],
      ["1.1.0-rc1", false],
    ] as const) {
      const created = await h.app.inject({
        method: "POST",
        url,
        headers,
        payload: { version, manifest, published },
      });
      assert.equal(created.statusCode, 201, created.body);
    }
    type Listing = {
      items: { slug: string; versions: { version: string; published: boolean }[] }[];
    };
    const member = (
      await h.app.inject({
        method: "GET",
        url: "/api/v1/apps/catalog",
        headers: h.auth("project_member"),
      })
    ).json() as Listing;
    assert.deepEqual(
      member.items.map((app) => [app.slug, app.versions.map((v) => v.version)]),
      [["jupyterlab", ["1.0.0"]]],
    );
    const operator = (
      await h.app.inject({
        method: "GET",
        url: "/api/v1/apps/catalog",
        headers: h.auth("operator"),
      })
    ).json() as Listing;
    assert.deepEqual(
      operator.items[0]?.versions.map((v) => [v.version, v.published]),
      [
        ["1.0.0", true],
        ["1.1.0-rc1", false],
      ],
    );
    assert.ok(
      !JSON.stringify(operator).includes("launch_wizard"),
      "the listing carries no manifest",
    );
  });
});
