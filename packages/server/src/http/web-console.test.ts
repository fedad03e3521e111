import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { CONSOLE_CSP, registerWebConsole } from "./web-console.js";

const dist = mkdtempSync(join(tmpdir(), "gpuaas-console-"));
mkdirSync(join(dist, "assets"));
writeFileSync(join(dist, "index.html"), "<!doctype html><div id=root></div>");
writeFileSync(join(dist, "assets", "index-abc.js"), "console.log(1)");
writeFileSync(join(dist, "assets", "index-abc.css"), "body{}");

after(() => rmSync(dist, { recursive: true, force: true }));

async function createApp(distDir: string | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: "request.not_found", message: `no route ${request.url}` }),
  );
  app.get("/api/v1/healthz", async () => ({ status: "ok" }));
  await registerWebConsole(app, { distDir });
  await app.ready();
  return app;
}

describe("web console serving", () => {
  it("serves index.html for / and every console path, with the security headers", async () => {
    const app = await createApp(dist);
    for (const url of ["/", "/catalog", "/instances/abc/events", "/catalog/x/launch?version=1"]) {
      const response = await app.inject({ method: "GET", url });
      assert.equal(response.statusCode, 200, url);
      assert.match(response.headers["content-type"] as string, /text\/html/);
      assert.equal(response.body, "<!doctype html><div id=root></div>");
      assert.equal(response.headers["content-security-policy"], CONSOLE_CSP);
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.equal(response.headers["referrer-policy"], "no-referrer");
      assert.equal(response.headers["x-frame-options"], "DENY");
      assert.equal(response.headers["cache-control"], "no-cache");
    }
    assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline/);
    await app.close();
  });

  it("serves hashed assets as immutable, answers 304 to a matching ETag, 404s missing assets", async () => {
    const app = await createApp(dist);
    const script = await app.inject({ method: "GET", url: "/assets/index-abc.js" });
    assert.equal(script.statusCode, 200);
    assert.match(script.headers["content-type"] as string, /text\/javascript/);
    assert.match(script.headers["cache-control"] as string, /immutable/);
    const etag = script.headers.etag as string;
    const again = await app.inject({
      method: "GET",
      url: "/assets/index-abc.js",
      headers: { "if-none-match": etag },
    });
    assert.equal(again.statusCode, 304);
    const missing = await app.inject({ method: "GET", url: "/assets/gone.js" });
    assert.equal(missing.statusCode, 404);
    assert.doesNotMatch(missing.body, /<div/);
    const head = await app.inject({ method: "HEAD", url: "/assets/index-abc.css" });
    assert.equal(head.statusCode, 200);
    await app.close();
  });

  it("leaves /api to the API: unknown API paths keep the JSON 404", async () => {
    const app = await createApp(dist);
    const unknown = await app.inject({ method: "GET", url: "/api/v1/nope" });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, "request.not_found");
    assert.equal(
      (await app.inject({ method: "GET", url: "/api" })).json().code,
      "request.not_found",
    );
    assert.equal((await app.inject({ method: "GET", url: "/api/v1/healthz" })).statusCode, 200);
    await app.close();
  });

  it("never reads outside the build: traversal and odd encodings get the page", async () => {
    const app = await createApp(dist);
    for (const url of ["/..%2f..%2fetc%2fpasswd", "/assets/..%2F..%2Findex.html", "/%E0%A4%A"]) {
      const response = await app.inject({ method: "GET", url });
      assert.ok([200, 400, 404].includes(response.statusCode), url);
      assert.doesNotMatch(response.body, /root:/);
    }
    await app.close();
  });

  it("explains how to build the console when there is none", async () => {
    for (const dir of [undefined, join(dist, "missing")]) {
      const app = await createApp(dir);
      const response = await app.inject({ method: "GET", url: "/" });
      assert.equal(response.statusCode, 404);
      assert.match(response.body, /npm run build -w @gpuaas\/web/);
      await app.close();
    }
  });
});
