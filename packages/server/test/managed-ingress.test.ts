// Managed ingress end to end against a real Caddy (Debian's 2.6.2 in CI): the control plane runs
// in process on 127.0.0.1 with an operator host map and the edge's admin API configured; a test
// agent launches JupyterLab (browser route, websockets) and vLLM (API route) through the real
// launch route and reports them running with the ports of two upstreams standing in for the
// workloads. The upstreams verify every identity assertion against the platform's JWKS. Covered:
// the outbox (the edge down at first, the change retried), the browser round trip (302 to
// sign-in, one-time ticket, host-only app session), owner and project-member policy, bearer
// tokens and endpoint API keys on the API route, forged identity headers, platform credentials
// stripped, websocket auth, route removal on stop, and the start-up reconcile of the edge.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LABEL_PREFIX, toContainerName } from "@gpuaas/engines";
import {
  APP_SESSION_COOKIE,
  type CaddyRoute,
  FORWARD_AUTH_PATH,
  renderCaddyConfig,
  toCaddyRouteId,
} from "@gpuaas/ingress";
import { type CaddyAdmin, createCaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import type { FastifyInstance } from "fastify";
import {
  type CaddyProcess,
  findFreePort,
  hasCaddy,
  startCaddy,
} from "../../ingress/test/support/caddy-process.js";
import { sendToEdge } from "../../ingress/test/support/edge-client.js";
import { verifyAssertion } from "../../ingress/test/support/platform-jwt.js";
import { openWebSocket } from "../../ingress/test/support/websocket.js";
import { buildApp } from "../src/http/build-app.js";
import { loadServerConfig } from "../src/http/server-config.js";
import { listEvents } from "../src/index.js";
import { createEdgeApplier } from "../src/ingress/edge-applier.js";
import { sweepLostNodes } from "../src/reconcile/sweep-lost-nodes.js";
import { callApi, mintBootstrapToken, sampleInventory, TestAgent } from "./agent-fixtures.js";
import { type Harness, type Role, startHarness } from "./http-harness.js";
import { type LaunchWorld, launchBody, seedLaunchWorld } from "./instance-fixtures.js";
import {
  bodyOf,
  CONSOLE,
  cookieOf,
  DOMAIN,
  HOST_MAP,
  type Seen,
  seedVllm,
  startVerifyingUpstream,
  type VerifyingUpstream,
  waitFor,
} from "./managed-ingress-fixtures.js";
import { BACKENDS } from "./store-backends.js";

const caddyMissing = hasCaddy()
  ? false
  : "caddy is not installed: GPUAAS_SETUP_TEST_DEPS=1 bash scripts/setup.sh installs it";
if (caddyMissing !== false && process.env.CI === "true") {
  throw new Error(`the managed-ingress suite must run in CI: ${caddyMissing}`);
}

for (const backend of BACKENDS) {
  describe(`managed ingress through a real Caddy (${backend.name})`, {
    skip: caddyMissing,
    concurrency: false,
    timeout: 120_000,
  }, () => {
    let dir: string;
    let h: Harness;
    let world: LaunchWorld;
    let agent: TestAgent;
    let admin: CaddyAdmin;
    let caddy: CaddyProcess | undefined;
    let jupyterUp: VerifyingUpstream;
    let vllmUp: VerifyingUpstream;
    let edgePort = 0;
    let adminPort = 0;
    let controlUrl = "";
    let jupyter: { id: string; host: string; routeId: string };
    let vllm: { id: string; host: string; routeId: string };
    const users: Partial<Record<Role, string>> = {};
    let started = 0;

    const edge = (
      host: string,
      path: string,
      init: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
    ) => sendToEdge({ port: edgePort, host, path, ...init });

    before(async () => {
      started = performance.now();
      dir = await mkdtemp(join(tmpdir(), "gpuaas-managed-ingress-"));
      edgePort = await findFreePort();
      adminPort = await findFreePort();
      admin = createCaddyAdmin({ endpoint: `http://127.0.0.1:${adminPort}` });
      h = await startHarness({
        backend,
        config: {
          data_dir: dir,
          oci_node_tasks_enabled: true,
          agent_sweep_interval_ms: 0,
          registry_token_key_file: join(dir, "registry-key.pem"),
          registry_token_cert_file: join(dir, "registry-cert.pem"),
          managed_ingress_host_map: HOST_MAP,
          ingress_domain: DOMAIN,
          ingress_public_scheme: "http",
          ingress_public_port: edgePort,
          ingress_access: "project_members",
          ingress_console_url: CONSOLE,
          caddy_admin_url: `http://127.0.0.1:${adminPort}`,
          ingress_edge_retry_ms: 200,
        },
      });
      controlUrl = await h.app.listen({ host: "127.0.0.1", port: 0 });
      jupyterUp = await startVerifyingUpstream(`${controlUrl}/.well-known/jwks.json`, CONSOLE);
      vllmUp = await startVerifyingUpstream(`${controlUrl}/.well-known/jwks.json`, CONSOLE);
      world = await seedLaunchWorld(h.store.db, h.projectId);
      await seedVllm(h.store.db, h.projectId);
      const token = await mintBootstrapToken(h.app, h.auth("operator"), world.node.id);
      agent = await TestAgent.register(h.app, token, {
        hostname: "gpu-host-1",
        inventory: { ...sampleInventory(), address: "127.0.0.1" },
      });
      for (const role of [
        "project_member",
        "project_admin",
        "project_viewer",
        "other_project_member",
        "operator",
      ] as const) {
        const me = await callApi(h.app, {
          method: "GET",
          url: "/api/v1/me",
          headers: h.auth(role),
        });
        users[role] = me.json.user?.id ?? me.json.id;
      }
    });

    after(async () => {
      await h?.close();
      await caddy?.stop();
      await jupyterUp?.close();
      await vllmUp?.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** Launches through the real route as the project member, and reports it running. */
    async function launchRunning(
      body: Record<string, unknown>,
      port: number,
      endpoint: string,
      containerPort: number,
    ): Promise<string> {
      const response = await callApi(h.app, {
        method: "POST",
        url: `/api/v1/projects/${h.projectId}/app-instances`,
        headers: h.auth("project_member"),
        body,
      });
      assert.equal(response.status, 202, response.body);
      const id = response.json.id as string;
      const leases = await agent.lease({ max: 16 });
      const lease = leases.json.leases.find(
        (item: { instance_id: string }) => item.instance_id === id,
      );
      assert.ok(lease, leases.body);
      const result = await agent.result(lease.task_id, "succeeded", {
        container_name: `gpuaas-${id}`,
        container_id: randomBytes(32).toString("hex"),
        ports: [{ endpoint, container_port: containerPort, host_port: port }],
      });
      assert.equal(result.status, 200, result.body);
      assert.equal(result.json.instance.state, "running");
      return id;
    }

    async function routeOf(instanceId: string) {
      const response = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/routes?instance_id=${instanceId}&state=active`,
        headers: h.auth("project_viewer"),
      });
      assert.equal(response.status, 200, response.body);
      const [route] = response.json.items;
      assert.ok(route, `no active route for ${instanceId}: ${response.body}`);
      return route;
    }

    /** The console session cookie of `role` (a session token of its own). */
    async function consoleSession(role: Role): Promise<string> {
      const response = await h.app.inject({
        method: "POST",
        url: "/api/v1/sessions",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ token: h.tokens[role] }),
      });
      assert.equal(response.statusCode, 201, response.body);
      const cookie = cookieOf(response.headers["set-cookie"], "gpuaas_session");
      return cookie.split(";")[0] ?? "";
    }

    /** The console's sign-in page as the browser runs it: a ticket for `rd`, with the session. */
    async function mintTicket(consoleCookie: string, rd: string) {
      const response = await h.app.inject({
        method: "POST",
        url: "/api/v1/ingress/tickets",
        headers: {
          cookie: consoleCookie,
          "content-type": "application/json",
          "x-gpuaas-csrf": "1",
        },
        payload: JSON.stringify({ rd }),
      });
      return { status: response.statusCode, json: response.json() as Record<string, string> };
    }

    /** The whole browser round trip for `role` to `path`; returns the app session cookie pair. */
    async function signInThroughEdge(role: Role, host: string, path: string): Promise<string> {
      const first = await edge(host, path);
      assert.equal(first.status, 302, first.body);
      const location = String(first.headers.location);
      const rd = new URL(location).searchParams.get("rd") ?? "";
      const ticket = await mintTicket(await consoleSession(role), rd);
      assert.equal(ticket.status, 201, JSON.stringify(ticket.json));
      const callback = new URL(ticket.json.redirect_url ?? "");
      const back = await edge(host, `${callback.pathname}${callback.search}`);
      assert.equal(back.status, 302, back.body);
      assert.equal(back.headers.location, path);
      return (cookieOf(back.headers["set-cookie"], APP_SESSION_COOKIE).split(";")[0] ?? "").trim();
    }

    it("records the route when the agent reports the launch running, and retries the edge until it takes it", async () => {
      jupyter = {
        id: await launchRunning(
          launchBody(world.allocation.id, {
            config: {
              workspace_mount: "scratch",
              exposure_mode: "managed_ingress",
              host_port: jupyterUp.port,
              python_packages: "",
            },
          }),
          jupyterUp.port,
          "web",
          8888,
        ),
        host: "",
        routeId: "",
      };
      const route = await routeOf(jupyter.id);
      jupyter.host = route.public_host;
      jupyter.routeId = route.route_id;
      assert.match(jupyter.host, /^jupyter-[0-9a-f]{12}\.apps\.example\.test$/);
      assert.equal(route.intent.upstream.host, "127.0.0.1");
      assert.equal(route.intent.upstream.port, jupyterUp.port);
      assert.equal(route.url, `http://${jupyter.host}:${edgePort}/lab`);

      // The edge is down: the change stays pending, its failure is an event, nothing is lost.
      const failed = await waitFor("an edge failure event", async () => {
        const events = await listEvents(h.store.db, { instance_id: jupyter.id, limit: 200 });
        return events.items.find((event) => event.type === "ingress.edge_apply_failed");
      });
      assert.match(failed.message, /did not take route .* \(apply\): .*unreachable/);
      const pending = await routeOf(jupyter.id);
      assert.equal(pending.edge.in_sync, false);
      assert.ok(pending.edge.attempts >= 1);

      const base = renderCaddyConfig([], {
        adminListen: `127.0.0.1:${adminPort}`,
        listen: [`127.0.0.1:${edgePort}`],
        authDial: new URL(controlUrl).host,
        authPath: FORWARD_AUTH_PATH,
      });
      const caddyStarted = performance.now();
      caddy = await startCaddy(base, admin);
      await waitFor("the route on the edge", () => admin.getRoute(toCaddyRouteId(jupyter.routeId)));
      const applied = await waitFor("the route in sync", async () => {
        const current = await routeOf(jupyter.id);
        return current.edge.in_sync === true ? current : undefined;
      });
      assert.equal(applied.edge.error, null);
      process.stderr.write(
        `# edge took the pending route ${Math.round(performance.now() - caddyStarted)} ms after caddy started\n`,
      );

      const endpoints = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/app-instances/${jupyter.id}/endpoints`,
        headers: h.auth("project_viewer"),
      });
      assert.equal(endpoints.status, 200, endpoints.body);
      const [web] = endpoints.json.items;
      assert.equal(web.exposure, "managed_ingress");
      assert.equal(web.managed.url, `http://${jupyter.host}:${edgePort}/lab`);
      assert.equal(web.managed.websocket, true);
      assert.equal(web.ssh_tunnel, null);
    });

    it("sends a browser without a session to the console's sign-in, keeping the original URL", async () => {
      const response = await edge(jupyter.host, "/lab/tree/a.ipynb?x=1");
      assert.equal(response.status, 302);
      const rd = `http://${jupyter.host}:${edgePort}/lab/tree/a.ipynb?x=1`;
      assert.equal(
        response.headers.location,
        `${CONSOLE}/ingress/sign-in?rd=${encodeURIComponent(rd)}`,
      );
      assert.equal(response.headers["set-cookie"], undefined);
      assert.equal(jupyterUp.seen.length, 0, "nothing reached the workload");
      const unknown = await edge(`nope-000000000000.${DOMAIN}`, "/");
      assert.equal(unknown.status, 404);
    });

    it("signs the owner in with a one-time ticket and a host-only app session; identity is the platform's, credentials stay out", async () => {
      const path = "/lab/tree?x=1";
      const first = await edge(jupyter.host, path);
      const rd = new URL(String(first.headers.location)).searchParams.get("rd") ?? "";
      const consoleCookie = await consoleSession("project_member");
      // The console's CSRF header is required: a cross-site form cannot mint tickets.
      const noCsrf = await h.app.inject({
        method: "POST",
        url: "/api/v1/ingress/tickets",
        headers: { cookie: consoleCookie, "content-type": "application/json" },
        payload: JSON.stringify({ rd }),
      });
      assert.equal(noCsrf.statusCode, 403);
      const ticket = await mintTicket(consoleCookie, rd);
      assert.equal(ticket.status, 201, JSON.stringify(ticket.json));
      const callback = new URL(ticket.json.redirect_url ?? "");
      assert.equal(callback.host, `${jupyter.host}:${edgePort}`);
      assert.equal(callback.pathname, "/.gpuaas/session");
      assert.equal(callback.searchParams.get("rd"), path);

      const back = await edge(jupyter.host, `${callback.pathname}${callback.search}`);
      assert.equal(back.status, 302, back.body);
      assert.equal(back.headers.location, path);
      const setCookie = cookieOf(back.headers["set-cookie"], APP_SESSION_COOKIE);
      assert.match(setCookie, /^__Host-gpuaas_app_session=gpuaas_aps_[A-Za-z0-9_-]{43}; /);
      assert.match(setCookie, /; Path=\/;/);
      assert.match(setCookie, /; Secure; HttpOnly; SameSite=Lax$/);
      assert.doesNotMatch(setCookie, /Domain=/i, "host-only: no Domain attribute");
      const appCookie = setCookie.split(";")[0] ?? "";
      assert.ok(!appCookie.includes(consoleCookie.split("=")[1] ?? "-"), "its own token");

      // The ticket works once; a replay starts a fresh round trip.
      const replay = await edge(jupyter.host, `${callback.pathname}${callback.search}`);
      assert.equal(replay.status, 302);
      assert.match(
        String(replay.headers.location),
        /^https:\/\/console\.example\.test\/ingress\/sign-in\?rd=/,
      );
      assert.equal(replay.headers["set-cookie"], undefined);

      const seen = bodyOf(
        await edge(jupyter.host, path, {
          headers: {
            cookie: `${appCookie}; _xsrf=app-own-cookie; ${consoleCookie}`,
            "X-Platform-User": "mallory",
            "X-Platform-Jwt-Assertion": "forged.forged.forged",
            X_Platform_User: "mallory",
            authorization: `Bearer ${h.tokens.project_member}`,
          },
        }),
      );
      assert.equal(seen.url, path);
      assert.equal(seen.headers["x-platform-user"], users.project_member);
      assert.equal(seen.headers.x_platform_user, undefined);
      assert.equal(
        seen.headers.authorization,
        undefined,
        "the user's bearer never reaches the workload",
      );
      assert.equal(
        seen.headers.cookie,
        "_xsrf=app-own-cookie",
        "platform cookies stripped, the app's kept",
      );
      assert.ok(seen.assertion.ok, JSON.stringify(seen.assertion));
      const claims = seen.assertion.claims;
      assert.equal(claims.sub, users.project_member);
      assert.equal(claims.aud, jupyter.host);
      assert.equal(claims.iss, CONSOLE);
      assert.equal(claims.route, jupyter.routeId);
      assert.equal(Number(claims.exp) - Number(claims.iat), 60);

      // The same assertion fails for another audience and once expired.
      const token = String(seen.headers["x-platform-jwt-assertion"]);
      const jwks = (await (await fetch(`${controlUrl}/.well-known/jwks.json`)).json()) as {
        keys: [];
      };
      assert.throws(
        () => verifyAssertion(token, jwks, { issuer: CONSOLE, audience: `other.${DOMAIN}` }),
        /wrong audience/,
      );
      assert.throws(
        () =>
          verifyAssertion(token, jwks, {
            issuer: CONSOLE,
            audience: jupyter.host,
            now: Number(claims.exp) + 1,
          }),
        /expired/,
      );
      const tampered = `${token.slice(0, -4)}${token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
      assert.throws(
        () => verifyAssertion(tampered, jwks, { issuer: CONSOLE, audience: jupyter.host }),
        /bad signature/,
      );

      // Websockets get the same auth: the session opens one from the route's own origin.
      const socket = await openWebSocket({
        port: edgePort,
        host: jupyter.host,
        path: "/api/kernels/k1/channels",
        headers: { cookie: appCookie, origin: `http://${jupyter.host}:${edgePort}` },
      });
      assert.equal(socket.status, 101);
      assert.ok("socket" in socket);
      const hello = JSON.parse(await socket.socket.next()) as Seen;
      assert.equal(hello.headers["x-platform-user"], users.project_member);
      assert.ok(hello.assertion.ok, JSON.stringify(hello.assertion));
      socket.socket.close();
      const anonymous = await openWebSocket({
        port: edgePort,
        host: jupyter.host,
        path: "/api/kernels/k1/channels",
        headers: { origin: `http://${jupyter.host}:${edgePort}` },
      });
      assert.equal(anonymous.status, 302);
      const crossSite = await openWebSocket({
        port: edgePort,
        host: jupyter.host,
        path: "/api/kernels/k1/channels",
        headers: { cookie: appCookie, origin: "https://evil.example" },
      });
      assert.equal(crossSite.status, 403);

      // Signing out of the console ends the app sessions it opened.
      const signOut = await h.app.inject({
        method: "DELETE",
        url: "/api/v1/sessions/current",
        headers: { cookie: consoleCookie, "x-gpuaas-csrf": "1" },
      });
      assert.equal(signOut.statusCode, 204);
      const after = await edge(jupyter.host, path, { headers: { cookie: appCookie } });
      assert.equal(after.status, 302);
    });

    it("lets the project's members in by policy, and refuses viewers, other projects' users and operators", async () => {
      const adminCookie = await signInThroughEdge("project_admin", jupyter.host, "/lab");
      const seen = bodyOf(await edge(jupyter.host, "/lab", { headers: { cookie: adminCookie } }));
      assert.equal(seen.headers["x-platform-user"], users.project_admin);
      assert.ok(seen.assertion.ok);

      const rd = `http://${jupyter.host}:${edgePort}/lab`;
      for (const role of ["project_viewer", "other_project_member", "operator"] as const) {
        const refused = await mintTicket(await consoleSession(role), rd);
        assert.equal(refused.status, 403, `${role}: ${JSON.stringify(refused.json)}`);
        assert.equal(refused.json.code, "auth.forbidden");
      }
      // A ticket is bound to its route's host: it does not open another one.
      const bad = await mintTicket(
        await consoleSession("project_member"),
        `http://evil.example:${edgePort}/`,
      );
      assert.equal(bad.status, 404);
      const wrongPort = await mintTicket(
        await consoleSession("project_member"),
        `http://${jupyter.host}:1/lab`,
      );
      assert.equal(wrongPort.status, 400);
    });

    it("serves the API route to bearer tokens and endpoint API keys only: 401 without, never a redirect or a cookie", async () => {
      vllm = {
        id: await launchRunning(
          {
            app_slug: "vllm-openai",
            app_version: "0.11.0",
            display_name: "vLLM",
            placement_intent: { target_allocation_id: world.allocation.id },
            config: {
              model: "Qwen/Qwen2.5-0.5B-Instruct",
              served_model_name: "qwen",
              tensor_parallel_size: 1,
              models_mount: "scratch",
              exposure_mode: "managed_ingress",
              host_port: vllmUp.port,
            },
            resource_overrides: { gpu_count: 1, cpu_cores: 4, memory_gib: 16 },
          },
          vllmUp.port,
          "openai",
          8000,
        ),
        host: "",
        routeId: "",
      };
      const route = await routeOf(vllm.id);
      vllm.host = route.public_host;
      vllm.routeId = route.route_id;
      assert.match(vllm.host, /^openai-[0-9a-f]{12}\.apps\.example\.test$/);
      await waitFor("the API route on the edge", () =>
        admin.getRoute(toCaddyRouteId(vllm.routeId)),
      );

      const none = await edge(vllm.host, "/v1/models", { headers: { accept: "text/html" } });
      assert.equal(none.status, 401);
      assert.equal(none.headers["www-authenticate"], 'Bearer realm="gpuaas"');
      assert.equal(none.headers.location, undefined);
      const wrong = await edge(vllm.host, "/v1/models", {
        headers: { authorization: `Bearer gpuaas_pat_${"A".repeat(43)}` },
      });
      assert.equal(wrong.status, 401);
      assert.equal(
        wrong.headers["www-authenticate"],
        'Bearer realm="gpuaas", error="invalid_token"',
      );
      const consoleCookie = await consoleSession("project_member");
      const cookieOnly = await edge(vllm.host, "/v1/models", {
        headers: { cookie: consoleCookie },
      });
      assert.equal(cookieOnly.status, 401, "a cookie is never a credential on an API route");

      const seen = bodyOf(
        await edge(vllm.host, "/v1/models", {
          headers: {
            authorization: `Bearer ${h.tokens.project_member}`,
            cookie: consoleCookie,
            "X-Platform-User": "mallory",
          },
        }),
      );
      assert.equal(seen.headers["x-platform-user"], users.project_member);
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers.cookie, undefined);
      assert.ok(seen.assertion.ok, JSON.stringify(seen.assertion));
      assert.equal(seen.assertion.ok && seen.assertion.claims.aud, vllm.host);

      const robot = bodyOf(
        await edge(vllm.host, "/v1/models", {
          headers: { authorization: `Bearer ${h.tokens.service_account_member}` },
        }),
      );
      assert.match(String(robot.headers["x-platform-user"]), /^service_account:/);
      const outsider = await edge(vllm.host, "/v1/models", {
        headers: { authorization: `Bearer ${h.tokens.other_project_member}` },
      });
      assert.equal(outsider.status, 403);
      assert.match(String(outsider.headers["www-authenticate"]), /insufficient_scope/);

      // A 256 KiB body reaches the workload whole; forward auth never reads it.
      const body = randomBytes(256 * 1024);
      const posted = bodyOf(
        await edge(vllm.host, "/v1/chat/completions", {
          method: "POST",
          headers: {
            authorization: `Bearer ${h.tokens.project_member}`,
            "content-type": "application/octet-stream",
          },
          body,
        }),
      );
      assert.equal(posted.bodyLength, body.length);

      const upgrade = await openWebSocket({
        port: edgePort,
        host: vllm.host,
        path: "/v1/stream",
        headers: { authorization: `Bearer ${h.tokens.project_member}` },
      });
      assert.equal(upgrade.status, 403, "this endpoint does not require websockets");
    });

    it("creates, rotates and revokes endpoint API keys that act for their creator on that endpoint only", async () => {
      const base = `/api/v1/projects/${h.projectId}/app-instances/${vllm.id}/endpoints/openai/api-keys`;
      const created = await callApi(h.app, {
        method: "POST",
        url: base,
        headers: h.auth("project_member"),
        body: { name: "notebook client" },
      });
      assert.equal(created.status, 201, created.body);
      const key = created.json.key as string;
      assert.match(key, /^gpuaas_epk_/);
      const viaKey = bodyOf(
        await edge(vllm.host, "/v1/models", { headers: { authorization: `Bearer ${key}` } }),
      );
      assert.equal(viaKey.headers["x-platform-user"], users.project_member);
      assert.equal(viaKey.headers.authorization, undefined);

      const listed = await callApi(h.app, {
        method: "GET",
        url: base,
        headers: h.auth("project_viewer"),
      });
      assert.equal(listed.status, 200);
      assert.equal(listed.json.items.length, 1);
      assert.ok(!listed.body.includes(key), "the secret is shown once");

      const rotated = await callApi(h.app, {
        method: "POST",
        url: `${base}/${created.json.id}/rotate`,
        headers: h.auth("project_member"),
      });
      assert.equal(rotated.status, 200, rotated.body);
      const fresh = rotated.json.key as string;
      assert.equal(
        (await edge(vllm.host, "/v1/models", { headers: { authorization: `Bearer ${key}` } }))
          .status,
        401,
      );
      bodyOf(
        await edge(vllm.host, "/v1/models", { headers: { authorization: `Bearer ${fresh}` } }),
      );

      const revoked = await callApi(h.app, {
        method: "DELETE",
        url: `${base}/${created.json.id}`,
        headers: h.auth("project_member"),
      });
      assert.equal(revoked.status, 204);
      assert.equal(
        (await edge(vllm.host, "/v1/models", { headers: { authorization: `Bearer ${fresh}` } }))
          .status,
        401,
      );
      // A key of this endpoint opens nothing else, and browser endpoints take no keys.
      const onBrowser = await callApi(h.app, {
        method: "POST",
        url: `/api/v1/projects/${h.projectId}/app-instances/${jupyter.id}/endpoints/web/api-keys`,
        headers: h.auth("project_member"),
        body: {},
      });
      assert.equal(onBrowser.status, 409);
      assert.equal(onBrowser.json.code, "ingress.api_keys_unsupported");
    });

    it("lists routes per project and for operators, with the edge in sync", async () => {
      const project = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/routes?state=active`,
        headers: h.auth("project_viewer"),
      });
      assert.deepEqual(
        project.json.items.map((route: { route_id: string }) => route.route_id).sort(),
        [jupyter.routeId, vllm.routeId].sort(),
      );
      const all = await callApi(h.app, {
        method: "GET",
        url: "/api/v1/routes",
        headers: h.auth("operator"),
      });
      assert.equal(all.status, 200);
      assert.equal(all.json.edge.driven, true);
      assert.equal(all.json.edge.pending, 0);
      const other = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.otherProjectId}/routes`,
        headers: h.auth("other_project_member"),
      });
      assert.deepEqual(other.json.items, []);
    });

    it("removes the route when the instance stops (404 at the edge) while another instance's route keeps working", async () => {
      const appCookie = await signInThroughEdge("project_member", jupyter.host, "/lab");
      bodyOf(await edge(jupyter.host, "/lab", { headers: { cookie: appCookie } }));
      const stop = await callApi(h.app, {
        method: "POST",
        url: `/api/v1/projects/${h.projectId}/app-instances/${jupyter.id}/actions`,
        headers: h.auth("project_member"),
        body: { action: "stop" },
      });
      assert.equal(stop.status, 202, stop.body);
      // The route is withdrawn the moment the stop is asked for (the workload is going away):
      // forward auth refuses at once, then the edge drops the route and answers 404 itself.
      const statuses = new Set<number>();
      await waitFor("the edge to drop the stopped route", async () => {
        const response = await edge(jupyter.host, "/lab", { headers: { cookie: appCookie } });
        statuses.add(response.status);
        return response.body === "no such endpoint" ? response : undefined;
      });
      assert.deepEqual([...statuses], [404]);
      const leases = await agent.lease({ max: 16 });
      const lease = leases.json.leases.find(
        (item: { instance_id: string }) => item.instance_id === jupyter.id,
      );
      assert.ok(lease, leases.body);
      assert.equal(
        (await agent.result(lease.task_id, "succeeded", {})).json.instance.state,
        "stopped",
      );
      assert.equal(
        (await edge(jupyter.host, "/lab", { headers: { cookie: appCookie } })).status,
        404,
      );
      bodyOf(
        await edge(vllm.host, "/v1/models", {
          headers: { authorization: `Bearer ${h.tokens.project_member}` },
        }),
      );

      const endpoints = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/app-instances/${jupyter.id}/endpoints`,
        headers: h.auth("project_viewer"),
      });
      const [web] = endpoints.json.items;
      assert.equal(web.exposure, "private");
      assert.equal(web.managed, null);
      assert.equal(web.not_exposed.code, "ingress.instance_not_running");
      assert.equal(
        web.ssh_tunnel.command,
        `ssh -N -L ${jupyterUp.port}:127.0.0.1:${jupyterUp.port} gpu-host-1`,
      );
      const events = await listEvents(h.store.db, { instance_id: jupyter.id, limit: 200 });
      const types = events.items.map((event) => event.type);
      for (const type of [
        "ingress.routes_recorded",
        "ingress.route_applied",
        "ingress.routes_withdrawn",
        "ingress.route_removed",
      ]) {
        assert.ok(types.includes(type), `missing event ${type}: ${types.join(", ")}`);
      }
    });

    it("withdraws the routes of an instance in doubt when its agent is lost, and brings them back from its container report", async () => {
      const authorized = { authorization: `Bearer ${h.tokens.project_member}` };
      const lost = await sweepLostNodes(h.store.db, {
        now: new Date(Date.now() + 3_600_000),
        offline_after_ms: 60_000,
      });
      assert.ok(lost.instances.some((instance) => instance.id === vllm.id));
      await waitFor("the edge to drop the route of the instance in doubt", async () => {
        const response = await edge(vllm.host, "/v1/models", { headers: authorized });
        return response.body === "no such endpoint" ? response : undefined;
      });
      assert.equal((await agent.heartbeat()).status, 200);
      const report = await agent.reportContainers([
        {
          name: toContainerName(vllm.id),
          container_id: randomBytes(32).toString("hex"),
          state: "running",
          running: true,
          labels: { [`${LABEL_PREFIX}.instance`]: vllm.id, [`${LABEL_PREFIX}.managed`]: "true" },
          ports: [{ container_port: 8000, host_port: vllmUp.port }],
        },
      ]);
      assert.equal(report.status, 200, report.body);
      assert.deepEqual(
        report.json.reconciled.map((item: { instance_id: string; to: string }) => [
          item.instance_id,
          item.to,
        ]),
        [[vllm.id, "running"]],
      );
      const back = await waitFor("the route back at the edge", async () => {
        const response = await edge(vllm.host, "/v1/models", { headers: authorized });
        return response.status === 200 ? response : undefined;
      });
      assert.equal(bodyOf(back).headers["x-platform-user"], users.project_member);
    });

    it("reconciles the edge at start-up: missing routes come back, strays go, matching routes stay untouched", async () => {
      const vllmId = toCaddyRouteId(vllm.routeId);
      const vllmRoute = await admin.getRoute(vllmId);
      assert.ok(vllmRoute);
      await admin.removeRoute(vllmId);
      const stray: CaddyRoute = {
        ...vllmRoute,
        "@id": toCaddyRouteId("stray.web"),
        match: [{ host: [`stray.${DOMAIN}`] }],
      };
      await admin.addRoute(stray);
      assert.equal((await edge(vllm.host, "/v1/models")).status, 404);

      // A second control plane on the same store, as after a restart.
      // Replicas name one forward-auth address, or each would re-render the others' routes.
      const second: FastifyInstance = await buildApp({
        store: h.store,
        config: { ...h.config, ingress_forward_auth_url: controlUrl },
        logStream: { write: () => undefined },
      });
      try {
        await second.listen({ host: "127.0.0.1", port: 0 });
        await waitFor("the start-up reconcile", async () => {
          const ids = (await admin.listRoutes()).map((route) => route["@id"]);
          return ids.includes(vllmId) && !ids.includes(stray["@id"]) ? ids : undefined;
        });
      } finally {
        await second.close();
      }
      const reachable = await edge(vllm.host, "/v1/models", {
        headers: { authorization: `Bearer ${h.tokens.project_member}` },
      });
      assert.equal(reachable.status, 200);

      // Reconciling again changes nothing: each Caddy change closes every open websocket.
      const applier = createEdgeApplier({
        db: h.store.db,
        admin,
        routeOptions: () => ({
          authDial: new URL(controlUrl).host,
          authPath: FORWARD_AUTH_PATH,
          publicScheme: "http",
          publicPort: edgePort,
        }),
        now: () => new Date(),
        log: { info: () => undefined, warn: () => undefined },
        retryMs: 200,
      });
      const again = await applier.reconcile();
      assert.deepEqual(again, { added: 0, replaced: 0, removed: 0, unchanged: 1, failed: 0 });
      process.stderr.write(
        `# managed-ingress suite: ${Math.round(performance.now() - started)} ms\n`,
      );
    });
  });
}

describe("managed ingress configuration", () => {
  it("never drives an edge admin API beyond loopback or a unix socket", () => {
    for (const url of [
      "http://0.0.0.0:2019",
      "http://10.0.0.5:2019",
      "http://caddy.example.test:2019",
      "https://127.0.0.1:2019",
      "http://user:pw@127.0.0.1:2019",
      "unix:relative.sock",
    ]) {
      const loaded = loadServerConfig({ flags: { caddy_admin_url: url } });
      assert.equal(loaded.ok, false, url);
      if (!loaded.ok) {
        assert.ok(
          loaded.problems.some((problem) => problem.option.includes("--caddy-admin-url")),
          JSON.stringify(loaded.problems),
        );
      }
    }
    for (const url of [
      "http://127.0.0.1:2019",
      "http://[::1]:2019",
      "http://localhost:2019",
      "unix:/run/gpuaas/caddy-admin.sock",
      "",
    ]) {
      const loaded = loadServerConfig({ flags: { caddy_admin_url: url } });
      assert.ok(loaded.ok, `${url}: ${JSON.stringify(loaded.ok ? [] : loaded.problems)}`);
    }
    const env = loadServerConfig({ env: { GPUAAS_CADDY_ADMIN_URL: "http://192.168.1.2:2019" } });
    assert.equal(env.ok, false);
  });
});
