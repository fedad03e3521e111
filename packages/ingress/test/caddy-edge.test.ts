// The conformance checks of reference §9 (T1–T15), path-compat routing and route removal,
// against a real Caddy (Debian's 2.6.2 in CI) configured only through the rendered JSON and the
// admin client. Behind it: an echo upstream and the stand-in for the control plane's
// forward-auth endpoint (test/support/forward-auth-stub.ts). Everything binds 127.0.0.1.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CaddyAdmin, createCaddyAdmin } from "../src/caddy-admin.js";
import {
  APP_SESSION_COOKIE,
  AUTH_CALLBACK_PATH,
  CADDY_SERVER_NAME,
  CADDY_UNKNOWN_HOST_ID,
  type CaddyRouteOptions,
  deriveRouteIntents,
  FORWARD_AUTH_PATH,
  type RouteIntent,
  type RouteIntentInput,
  renderCaddyConfig,
  renderCaddyRoute,
  toCaddyRouteId,
} from "../src/index.js";
import { HOST_MAP, loadProfile, makeInstance } from "../src/test-fixtures.js";
import { type CaddyProcess, findFreePort, hasCaddy, startCaddy } from "./support/caddy-process.js";
import {
  type EchoedRequest,
  type EchoUpstream,
  startEchoUpstream,
} from "./support/echo-upstream.js";
import { sendToEdge } from "./support/edge-client.js";
import {
  EMPTY_IDENTITY_SESSION,
  type ForwardAuthStub,
  NO_IDENTITY_SESSION,
  startForwardAuthStub,
  USER_ONLY_SESSION,
} from "./support/forward-auth-stub.js";
import { verifyAssertion } from "./support/platform-jwt.js";
import { openWebSocket } from "./support/websocket.js";

const caddyMissing = hasCaddy()
  ? false
  : "caddy is not installed: GPUAAS_SETUP_TEST_DEPS=1 bash scripts/setup.sh installs it";
if (caddyMissing !== false && process.env.CI === "true") {
  throw new Error(`the edge conformance suite must run in CI: ${caddyMissing}`);
}

function intentFor(input: RouteIntentInput): RouteIntent {
  const { intents, unexposed } = deriveRouteIntents(input);
  assert.deepEqual(unexposed, []);
  const [intent] = intents;
  assert.ok(intent);
  return intent;
}

const ALICE_COOKIES = `${APP_SESSION_COOKIE}=sess-alice; _xsrf=app-own-cookie; gpuaas_session=console-token`;

describe("Caddy edge conformance (real caddy)", { skip: caddyMissing, concurrency: false }, () => {
  let upstream: EchoUpstream;
  let auth: ForwardAuthStub;
  let caddy: CaddyProcess | undefined;
  let admin: CaddyAdmin;
  let port = 0;
  let adminPort = 0;
  let options: CaddyRouteOptions;
  let jupyter: RouteIntent;
  let vllm: RouteIntent;
  let legacy: RouteIntent;

  const lastUpstream = (): EchoedRequest => {
    const last = upstream.received.at(-1);
    assert.ok(last, "the upstream received nothing");
    return last;
  };
  const edge = (
    host: string,
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
  ) => sendToEdge({ port, host, path, ...init });

  before(async () => {
    upstream = await startEchoUpstream();
    auth = await startForwardAuthStub();
    port = await findFreePort();
    adminPort = await findFreePort();
    const upstreamAt = { host: "127.0.0.1", port: upstream.port };
    const domain = "apps.example.test";
    jupyter = intentFor({
      profile: loadProfile("profiles/jupyterlab.yaml"),
      instance: makeInstance("jupyterlab", "abc123"),
      upstream: { web: upstreamAt },
      hostMap: HOST_MAP,
      domain,
    });
    vllm = intentFor({
      profile: loadProfile("profiles/vllm-openai.yaml"),
      instance: makeInstance("vllm-openai", "abc123"),
      upstream: { openai: upstreamAt },
      hostMap: HOST_MAP,
      domain,
    });
    legacy = intentFor({
      profile: loadProfile("test/fixtures/profiles/jupyterlab-legacy.yaml"),
      instance: makeInstance("jupyterlab", "def456"),
      upstream: { web: upstreamAt },
      hostMap: HOST_MAP,
      domain,
    });
    auth.setRoutes([jupyter, vllm, legacy]);
    options = {
      authDial: `127.0.0.1:${auth.port}`,
      authPath: FORWARD_AUTH_PATH,
      publicScheme: "http",
      publicPort: port,
    };
    const configOptions = {
      ...options,
      adminListen: `127.0.0.1:${adminPort}`,
      listen: [`127.0.0.1:${port}`],
    };
    admin = createCaddyAdmin({ endpoint: `http://127.0.0.1:${adminPort}` });
    // Start from the base config (no routes), then load one intent and add the others alone.
    caddy = await startCaddy(renderCaddyConfig([], configOptions), admin);
    await admin.load(renderCaddyConfig([jupyter], configOptions));
    assert.equal(await admin.addRoute(renderCaddyRoute(vllm, options)), "added");
    assert.equal(await admin.addRoute(renderCaddyRoute(legacy, options)), "added");
  });

  after(async () => {
    await caddy?.stop();
    await upstream?.close();
    await auth?.close();
  });

  it("lists the three routes by @id, the 404 route kept last", async () => {
    const ids = (await admin.listRoutes()).map((route) => route["@id"]);
    assert.deepEqual(
      new Set(ids),
      new Set([jupyter, vllm, legacy].map((i) => toCaddyRouteId(i.routeId))),
    );
    const raw = await sendToEdge({
      port: adminPort,
      host: "127.0.0.1",
      path: `/config/apps/http/servers/${CADDY_SERVER_NAME}/routes`,
    });
    const all = JSON.parse(raw.body) as { "@id"?: string }[];
    assert.equal(all.length, 4);
    assert.equal(all.at(-1)?.["@id"], CADDY_UNKNOWN_HOST_ID);
  });

  it("T1: an unknown host gets 404 and never reaches a workload", async () => {
    const before = upstream.received.length;
    for (const host of ["unknown-abc123.apps.example.test", "127.0.0.1", "apps.example.test"]) {
      const response = await edge(host, "/lab", { headers: { Cookie: ALICE_COOKIES } });
      assert.equal(response.status, 404, host);
    }
    assert.equal(upstream.received.length, before);
  });

  it("T2/T3: a browser route without or with a bad session redirects to sign-in", async () => {
    const none = await edge(jupyter.publicHost, "/lab");
    assert.equal(none.status, 302);
    assert.ok(String(none.headers.location).startsWith(`${auth.signInUrl}?rd=`));
    const bad = await edge(jupyter.publicHost, "/lab", {
      headers: { Cookie: `${APP_SESSION_COOKIE}=forged` },
    });
    assert.equal(bad.status, 302);
  });

  it("T4: the sign-in redirect keeps the original path and query", async () => {
    const response = await edge(jupyter.publicHost, "/lab/tree/notes.ipynb?kernel=1");
    const location = new URL(String(response.headers.location));
    assert.equal(
      location.searchParams.get("rd"),
      `http://${jupyter.publicHost}:${port}/lab/tree/notes.ipynb?kernel=1`,
    );
  });

  it("T4b: the sign-in callback sets a host-only session and returns to the path", async () => {
    auth.tickets.set("ticket-1", "user-alice");
    const callback = await edge(
      jupyter.publicHost,
      `${AUTH_CALLBACK_PATH}?ticket=ticket-1&rd=/lab/tree`,
    );
    assert.equal(callback.status, 302);
    assert.equal(callback.headers.location, "/lab/tree");
    const cookie = String(callback.headers["set-cookie"]?.[0]);
    assert.match(
      cookie,
      /^__Host-gpuaas_app_session=sess-[^;]+; Path=\/; Secure; HttpOnly; SameSite=Lax$/,
    );
    assert.doesNotMatch(cookie, /Domain=/i);
    const replay = await edge(jupyter.publicHost, `${AUTH_CALLBACK_PATH}?ticket=ticket-1&rd=/lab`);
    assert.equal(replay.status, 403, "a ticket is used once");
    const session = cookie.split(";")[0] ?? "";
    const followed = await edge(jupyter.publicHost, "/lab/tree", { headers: { Cookie: session } });
    assert.equal(followed.status, 200);
    assert.equal(lastUpstream().headers["x-platform-user"], "user-alice");
  });

  it("T5: forged identity and forwarded headers are replaced; credentials stay at the edge", async () => {
    const response = await edge(jupyter.publicHost, "/lab?x=1", {
      headers: {
        Cookie: ALICE_COOKIES,
        Authorization: "Bearer tok-alice",
        "X-Platform-User": "mallory",
        "X-Platform-Jwt-Assertion": "forged.jwt.value",
        X_Platform_User: "mallory",
        "X-Forwarded-For": "6.6.6.6",
      },
    });
    assert.equal(response.status, 200, response.body);
    const seen = lastUpstream();
    assert.equal(seen.url, "/lab?x=1");
    assert.equal(seen.headers["x-platform-user"], "user-alice");
    assert.equal(seen.headers.x_platform_user, undefined);
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert.equal(seen.headers.cookie, "_xsrf=app-own-cookie", "only the app's own cookie remains");
    assert.equal(seen.headers.host, `${jupyter.publicHost}:${port}`, "the public host is kept");
    const claims = verifyAssertion(
      String(seen.headers["x-platform-jwt-assertion"]),
      auth.signer.jwks,
      {
        issuer: auth.issuer,
        audience: jupyter.publicHost,
      },
    );
    assert.equal(claims.sub, "user-alice");
    assert.equal(claims.route, jupyter.routeId);
    assert.throws(
      () =>
        verifyAssertion(String(seen.headers["x-platform-jwt-assertion"]), auth.signer.jwks, {
          issuer: auth.issuer,
          audience: vllm.publicHost,
        }),
      /wrong audience/,
    );
    assert.throws(
      () =>
        verifyAssertion(String(seen.headers["x-platform-jwt-assertion"]), auth.signer.jwks, {
          issuer: auth.issuer,
          audience: jupyter.publicHost,
          now: Math.floor(Date.now() / 1000) + 120,
        }),
      /expired/,
    );
  });

  it("T5b: the session cookie removal keeps every other cookie in any position", async () => {
    await edge(jupyter.publicHost, "/", {
      headers: { Cookie: `a=1; ${APP_SESSION_COOKIE}=sess-alice; b=2` },
    });
    assert.equal(lastUpstream().headers.cookie, "a=1; b=2");
  });

  it("T5c: a Cookie header that held only platform cookies does not reach the workload, not even empty", async () => {
    for (const cookie of [
      `${APP_SESSION_COOKIE}=sess-alice`,
      `${APP_SESSION_COOKIE}=sess-alice; gpuaas_session=console-token`,
      `gpuaas_session=console-token; ${APP_SESSION_COOKIE}=sess-alice`,
    ]) {
      await edge(jupyter.publicHost, "/", { headers: { Cookie: cookie } });
      const seen = lastUpstream().headers;
      assert.equal(seen["x-platform-user"], "user-alice", cookie);
      assert.ok(!("cookie" in seen), `${cookie}: the workload got Cookie: ${String(seen.cookie)}`);
    }
  });

  it("T6: auth 200 without identity headers never lets a forged header through", async () => {
    for (const session of [NO_IDENTITY_SESSION, USER_ONLY_SESSION, EMPTY_IDENTITY_SESSION]) {
      const before = upstream.received.length;
      const response = await edge(jupyter.publicHost, "/lab", {
        headers: {
          Cookie: `${APP_SESSION_COOKIE}=${session}`,
          "X-Platform-User": "mallory",
          "X-Platform-Jwt-Assertion": "forged.jwt.value",
        },
      });
      assert.equal(response.status, 502, session);
      assert.equal(upstream.received.length, before, `${session}: fails closed`);
    }
  });

  it("a signed-in user who is not a subject of the route gets 403", async () => {
    const response = await edge(jupyter.publicHost, "/lab", {
      headers: { Cookie: `${APP_SESSION_COOKIE}=sess-bob` },
    });
    assert.equal(response.status, 403);
  });

  it("T7/T8: an API route without or with a wrong bearer answers 401, never a redirect", async () => {
    const none = await edge(vllm.publicHost, "/v1/models", { headers: { Accept: "text/html" } });
    assert.equal(none.status, 401);
    assert.match(String(none.headers["www-authenticate"]), /^Bearer realm="gpuaas"/);
    const wrong = await edge(vllm.publicHost, "/v1/models", {
      headers: { Authorization: "Bearer not-a-token" },
    });
    assert.equal(wrong.status, 401);
    assert.match(String(wrong.headers["www-authenticate"]), /invalid_token/);
  });

  it("T9: a browser session cookie is not a credential on an API route", async () => {
    const response = await edge(vllm.publicHost, "/v1/models", {
      headers: { Cookie: ALICE_COOKIES },
    });
    assert.equal(response.status, 401);
  });

  it("T10: a good bearer reaches the API with identity and without Authorization or Cookie", async () => {
    const response = await edge(vllm.publicHost, "/v1/models", {
      headers: {
        Authorization: "Bearer tok-alice",
        Cookie: ALICE_COOKIES,
        "X-Platform-User": "mallory",
      },
    });
    assert.equal(response.status, 200);
    const seen = lastUpstream();
    assert.equal(seen.headers["x-platform-user"], "user-alice");
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers.cookie, undefined);
    verifyAssertion(String(seen.headers["x-platform-jwt-assertion"]), auth.signer.jwks, {
      issuer: auth.issuer,
      audience: vllm.publicHost,
    });
  });

  it("T11: a POST body reaches the upstream whole; the auth request carries none", async () => {
    const body = randomBytes(256 * 1024);
    const authBefore = auth.requests.length;
    const response = await edge(vllm.publicHost, "/v1/chat/completions", {
      method: "POST",
      headers: { Authorization: "Bearer tok-alice", "Content-Type": "application/octet-stream" },
      body,
    });
    assert.equal(response.status, 200);
    const seen = lastUpstream();
    assert.equal(seen.method, "POST");
    assert.equal(seen.bodyLength, body.length);
    assert.equal(seen.bodySha256, createHash("sha256").update(body).digest("hex"));
    const authSeen = auth.requests.at(-1);
    assert.equal(auth.requests.length, authBefore + 1);
    assert.equal(authSeen?.method, "GET");
    assert.equal(authSeen?.bodyLength, 0);
    assert.equal(authSeen?.headers["x-forwarded-method"], "POST");
    assert.equal(authSeen?.headers["x-forwarded-uri"], "/v1/chat/completions");
    assert.equal(authSeen?.url, `${FORWARD_AUTH_PATH}?route=${encodeURIComponent(vllm.routeId)}`);
  });

  it("T12: a websocket with a session upgrades; the forged header is replaced", async () => {
    const result = await openWebSocket({
      port,
      host: jupyter.publicHost,
      path: "/api/kernels/k1/channels",
      headers: {
        Cookie: ALICE_COOKIES,
        Origin: `http://${jupyter.publicHost}:${port}`,
        "X-Platform-User": "mallory",
      },
    });
    assert.equal(result.status, 101);
    assert.ok("socket" in result);
    try {
      const handshake = JSON.parse(await result.socket.next()) as EchoedRequest;
      assert.equal(handshake.headers["x-platform-user"], "user-alice");
      assert.equal(handshake.headers.authorization, undefined);
      assert.equal(handshake.headers.cookie, "_xsrf=app-own-cookie");
      result.socket.send("hello");
      assert.equal(await result.socket.next(), "echo:hello");
    } finally {
      result.socket.close();
    }
  });

  it("T13: a websocket without a session gets the sign-in redirect, no upgrade", async () => {
    const result = await openWebSocket({
      port,
      host: jupyter.publicHost,
      path: "/api/kernels/k1/channels",
      headers: { Origin: `http://${jupyter.publicHost}:${port}` },
    });
    assert.equal(result.status, 302);
  });

  it("T13b: a browser websocket from another origin, or none, is refused (CSWSH)", async () => {
    for (const origin of [
      `http://evil.example.test:${port}`,
      `http://${vllm.publicHost}:${port}`,
      undefined,
    ]) {
      const result = await openWebSocket({
        port,
        host: jupyter.publicHost,
        path: "/api/kernels/k1/channels",
        headers: { Cookie: ALICE_COOKIES, ...(origin !== undefined ? { Origin: origin } : {}) },
      });
      assert.equal(result.status, 403, String(origin));
    }
  });

  it("T14: a websocket on an API route without a token answers 401", async () => {
    const result = await openWebSocket({ port, host: vllm.publicHost, path: "/v1/realtime" });
    assert.equal(result.status, 401);
  });

  it("T15: a websocket on an API route with a token is refused: not required there", async () => {
    const before = upstream.received.length;
    const result = await openWebSocket({
      port,
      host: vllm.publicHost,
      path: "/v1/realtime",
      headers: { Authorization: "Bearer tok-alice" },
    });
    assert.equal(result.status, 403);
    assert.equal(upstream.received.length, before);
  });

  it("path compat: a segment-bounded prefix, stripped before the upstream", async () => {
    const headers = { Cookie: ALICE_COOKIES };
    const inside = await edge(legacy.publicHost, "/i/def456/web/lab?x=1", { headers });
    assert.equal(inside.status, 200);
    assert.equal(lastUpstream().url, "/lab?x=1");
    const bare = await edge(legacy.publicHost, "/i/def456/web", { headers });
    assert.equal(bare.status, 200);
    assert.equal(lastUpstream().url, "/");
    for (const path of ["/i/def456/webX/lab", "/lab", "/i/def456/we"]) {
      assert.equal((await edge(legacy.publicHost, path, { headers })).status, 404, path);
    }
    const redirect = await edge(legacy.publicHost, "/i/def456/web/lab");
    assert.equal(
      new URL(String(redirect.headers.location)).searchParams.get("rd"),
      `http://${legacy.publicHost}:${port}/i/def456/web/lab`,
    );
  });

  it("adding a route that exists replaces it alone", async () => {
    assert.equal(await admin.addRoute(renderCaddyRoute(vllm, options)), "replaced");
    assert.equal((await admin.listRoutes()).length, 3);
  });

  it("removing one route leaves the other routes serving", async () => {
    assert.equal(await admin.removeRoute(toCaddyRouteId(vllm.routeId)), true);
    assert.equal(await admin.removeRoute(toCaddyRouteId(vllm.routeId)), false, "already gone");
    assert.equal(await admin.getRoute(toCaddyRouteId(vllm.routeId)), undefined);
    const gone = await edge(vllm.publicHost, "/v1/models", {
      headers: { Authorization: "Bearer tok-alice" },
    });
    assert.equal(gone.status, 404);
    const kept = await edge(jupyter.publicHost, "/lab", { headers: { Cookie: ALICE_COOKIES } });
    assert.equal(kept.status, 200);
    const compat = await edge(legacy.publicHost, "/i/def456/web/", {
      headers: { Cookie: ALICE_COOKIES },
    });
    assert.equal(compat.status, 200);
    assert.deepEqual(
      (await admin.listRoutes()).map((route) => route["@id"]).sort(),
      [toCaddyRouteId(jupyter.routeId), toCaddyRouteId(legacy.routeId)].sort(),
    );
    assert.equal((await edge("unknown.apps.example.test", "/")).status, 404, "404 route kept");
    assert.equal(await admin.addRoute(renderCaddyRoute(vllm, options)), "added");
    const back = await edge(vllm.publicHost, "/v1/models", {
      headers: { Authorization: "Bearer tok-alice" },
    });
    assert.equal(back.status, 200);
  });

  it("Caddy 2.6.2 closes open websockets on any config change (1001); clients reconnect", async () => {
    const open = () =>
      openWebSocket({
        port,
        host: jupyter.publicHost,
        path: "/api/kernels/k1/channels",
        headers: { Cookie: ALICE_COOKIES, Origin: `http://${jupyter.publicHost}:${port}` },
      });
    const first = await open();
    assert.ok("socket" in first);
    try {
      await first.socket.next();
      // A change to another route: Caddy reloads the whole config and closes hijacked streams.
      assert.equal(await admin.removeRoute(toCaddyRouteId(vllm.routeId)), true);
      await assert.rejects(first.socket.next(2000), /websocket closed/);
      assert.equal(first.socket.closeCode(), 1001, "going away");
    } finally {
      first.socket.close();
    }
    const second = await open();
    assert.ok("socket" in second);
    try {
      await second.socket.next();
      second.socket.send("again");
      assert.equal(await second.socket.next(), "echo:again");
    } finally {
      second.socket.close();
    }
  });

  it("forward auth adds little latency (figure)", async (t) => {
    const samples: number[] = [];
    for (let i = 0; i < 200; i += 1) {
      const started = performance.now();
      const response = await edge(jupyter.publicHost, "/lab", {
        headers: { Cookie: ALICE_COOKIES },
      });
      samples.push(performance.now() - started);
      assert.equal(response.status, 200);
    }
    samples.sort((a, b) => a - b);
    const at = (q: number) => (samples[Math.floor(q * (samples.length - 1))] ?? 0).toFixed(2);
    t.diagnostic(`200 authenticated requests through Caddy: p50 ${at(0.5)} ms, p95 ${at(0.95)} ms`);
  });
});

describe("Caddy admin over a unix socket (real caddy)", { skip: caddyMissing }, () => {
  it("loads, adds and removes a route through unix:<socket>", async () => {
    const edgePort = await findFreePort();
    const socketDir = mkdtempSync(join(tmpdir(), "gpuaas-admin-"));
    let caddy: CaddyProcess | undefined;
    try {
      const socketPath = join(socketDir, "admin.sock");
      const admin = createCaddyAdmin({ endpoint: `unix:${socketPath}` });
      const options = { authDial: "127.0.0.1:9", authPath: FORWARD_AUTH_PATH };
      const config = renderCaddyConfig([], {
        ...options,
        adminListen: `unix/${socketPath}`,
        listen: [`127.0.0.1:${edgePort}`],
      });
      caddy = await startCaddy(config, admin);
      const intent = intentFor({
        profile: loadProfile("profiles/vllm-openai.yaml"),
        instance: makeInstance("vllm-openai", "zz9"),
        upstream: { openai: { host: "127.0.0.1", port: 9 } },
        hostMap: HOST_MAP,
      });
      assert.equal(await admin.addRoute(renderCaddyRoute(intent, options)), "added");
      assert.deepEqual(
        (await admin.listRoutes()).map((route) => route["@id"]),
        [toCaddyRouteId(intent.routeId)],
      );
      // The auth endpoint (port 9) is down: the edge fails closed, it never proxies.
      const closed = await sendToEdge({
        port: edgePort,
        host: intent.publicHost,
        path: "/v1/models",
      });
      assert.equal(closed.status, 502);
      assert.equal(await admin.removeRoute(toCaddyRouteId(intent.routeId)), true);
      const gone = await sendToEdge({
        port: edgePort,
        host: intent.publicHost,
        path: "/v1/models",
      });
      assert.equal(gone.status, 404);
    } finally {
      await caddy?.stop();
      rmSync(socketDir, { recursive: true, force: true });
    }
  });
});
