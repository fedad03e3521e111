import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type AdminFetch,
  CaddyAdminError,
  createCaddyAdmin,
  isAllowedAdminEndpoint,
} from "./caddy-admin.js";

type Call = { method: string; url: string; body?: string };

/** A fake fetch that answers from a script and records the calls. */
function scripted(answers: (Error | { status: number; body: string })[]): {
  fetch: AdminFetch;
  calls: Call[];
} {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      calls.push({
        method: init.method,
        url,
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
      const answer = answers.shift();
      if (answer === undefined) throw new Error("no scripted answer left");
      if (answer instanceof Error) throw answer;
      return { status: answer.status, text: async () => answer.body };
    },
  };
}

describe("isAllowedAdminEndpoint", () => {
  it("allows loopback HTTP and unix sockets only", () => {
    for (const ok of [
      "http://127.0.0.1:2019",
      "http://127.0.0.1:2019/",
      "http://127.1.2.3:2019",
      "http://localhost:2019",
      "http://[::1]:2019",
      "unix:/run/gpuaas/caddy-admin.sock",
    ]) {
      assert.ok(isAllowedAdminEndpoint(ok), ok);
    }
    for (const refused of [
      "http://0.0.0.0:2019",
      "http://10.0.0.1:2019",
      "http://caddy.internal:2019",
      "http://127.0.0.1.nip.io:2019",
      "https://127.0.0.1:2019",
      "http://user:pw@127.0.0.1:2019",
      "http://127.0.0.1:2019/config",
      "http://[::ffff:10.0.0.1]:2019",
      "unix:relative.sock",
      "127.0.0.1:2019",
      "",
    ]) {
      assert.ok(!isAllowedAdminEndpoint(refused), refused);
    }
  });

  it("refuses to create a client for any other endpoint", () => {
    assert.throws(
      () => createCaddyAdmin({ endpoint: "http://192.168.1.10:2019" }),
      (error: unknown) =>
        error instanceof CaddyAdminError && error.code === "caddy_admin.refused_endpoint",
    );
  });
});

describe("createCaddyAdmin with an injected fetch", () => {
  const endpoint = "http://127.0.0.1:2019";

  it("inserts a new route at index 0 so the 404 route stays last", async () => {
    const { fetch, calls } = scripted([
      { status: 404, body: '{"error":"unknown object ID \'route-a.web\'"}' },
      { status: 200, body: "" },
    ]);
    const admin = createCaddyAdmin({ endpoint, fetch });
    assert.equal(await admin.addRoute({ "@id": "route-a.web", handle: [] }), "added");
    assert.deepEqual(
      calls.map((call) => [call.method, call.url]),
      [
        ["GET", "http://127.0.0.1:2019/id/route-a.web"],
        ["PUT", "http://127.0.0.1:2019/config/apps/http/servers/gpuaas_edge/routes/0"],
      ],
    );
  });

  it("replaces a route that exists in place (PATCH /id/<id>)", async () => {
    const { fetch, calls } = scripted([
      { status: 200, body: '{"@id":"route-a.web","handle":[]}' },
      { status: 200, body: "" },
    ]);
    const admin = createCaddyAdmin({ endpoint, fetch });
    assert.equal(await admin.addRoute({ "@id": "route-a.web", handle: [] }), "replaced");
    assert.equal(calls[1]?.method, "PATCH");
    assert.equal(calls[1]?.url, "http://127.0.0.1:2019/id/route-a.web");
  });

  it("removes by @id and reports an id that is not there", async () => {
    const { fetch, calls } = scripted([
      { status: 200, body: "" },
      { status: 404, body: '{"error":"unknown object ID \'route-x\'"}' },
    ]);
    const admin = createCaddyAdmin({ endpoint, fetch });
    assert.equal(await admin.removeRoute("route-a.web"), true);
    assert.equal(await admin.removeRoute("route-x"), false);
    assert.deepEqual(calls[0], { method: "DELETE", url: "http://127.0.0.1:2019/id/route-a.web" });
  });

  it("lists only the renderer's routes", async () => {
    const { fetch } = scripted([
      {
        status: 200,
        body: JSON.stringify([
          { "@id": "route-a.web", handle: [] },
          { "@id": "operator-extra", handle: [] },
          { handle: [] },
          { "@id": "gpuaas-unknown-host", handle: [] },
        ]),
      },
    ]);
    const routes = await createCaddyAdmin({ endpoint, fetch }).listRoutes();
    assert.deepEqual(
      routes.map((route) => route["@id"]),
      ["route-a.web"],
    );
  });

  it("retries a GET once after a dropped connection, never a change", async () => {
    const dropped = new TypeError("fetch failed");
    const get = scripted([dropped, { status: 200, body: "[]" }]);
    assert.deepEqual(await createCaddyAdmin({ endpoint, fetch: get.fetch }).listRoutes(), []);
    assert.equal(get.calls.length, 2);
    const put = scripted([{ status: 404, body: "{}" }, dropped]);
    await assert.rejects(
      createCaddyAdmin({ endpoint, fetch: put.fetch }).addRoute({ "@id": "route-b", handle: [] }),
      (error: unknown) =>
        error instanceof CaddyAdminError && error.code === "caddy_admin.unreachable",
    );
    assert.equal(put.calls.length, 2, "the PUT was sent once");
  });

  it("reports what Caddy said when it rejects a change", async () => {
    const { fetch } = scripted([{ status: 400, body: '{"error":"loading config: bad handler"}' }]);
    await assert.rejects(
      createCaddyAdmin({ endpoint, fetch }).load({} as never),
      (error: unknown) =>
        error instanceof CaddyAdminError &&
        error.code === "caddy_admin.rejected" &&
        error.status === 400 &&
        /bad handler/.test(error.message),
    );
  });

  it("refuses to manage a route without an @id", async () => {
    const { fetch } = scripted([]);
    await assert.rejects(
      createCaddyAdmin({ endpoint, fetch }).addRoute({ handle: [] }),
      CaddyAdminError,
    );
  });
});
