// The browser round trip of a managed browser route in Debian's Chromium, through a real Caddy
// serving TLS for *.apps.example.test (resolved to 127.0.0.1 by the browser): a signed-out
// browser opening the app's URL lands on the console's sign-in, signs in there, and the console
// page trades its session for a one-time ticket and sends the browser on to the app's own host,
// which sets its own host-only `__Host-` cookie and opens the original path. The console's
// cookie never leaves the console's origin. Another project's user gets the console's refusal.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  APP_SESSION_COOKIE,
  FORWARD_AUTH_PATH,
  renderCaddyConfig,
  toCaddyRouteId,
} from "@gpuaas/ingress";
import { createCaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import {
  type CaddyProcess,
  findFreePort,
  hasCaddy,
  startCaddy,
} from "../../ingress/test/support/caddy-process.js";
import { callApi, mintBootstrapToken, TestAgent } from "./agent-fixtures.js";
import { type Harness, type Role, startHarness } from "./http-harness.js";
import { launchBody, seedLaunchWorld } from "./instance-fixtures.js";
import {
  DOMAIN,
  HOST_MAP,
  type Seen,
  startVerifyingUpstream,
  type VerifyingUpstream,
  waitFor,
} from "./managed-ingress-fixtures.js";

const CHROMIUM = "/usr/bin/chromium";
const WEB_DIST = new URL("../../web/dist/", import.meta.url).pathname;
const missing = !hasCaddy()
  ? "caddy is not installed"
  : !existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing`
    : !existsSync(join(WEB_DIST, "index.html"))
      ? "the web console is not built (npm run build -w @gpuaas/web)"
      : spawnSync("openssl", ["version"]).status !== 0
        ? "openssl is missing"
        : false;
if (missing !== false && process.env.CI === "true") {
  throw new Error(`the managed-ingress browser suite must run in CI: ${missing}`);
}

/** A fresh headless Chromium that resolves the apps domain to 127.0.0.1 and trusts the test cert. */
async function launchBrowser(): Promise<{
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}> {
  const profile = await mkdtemp(join(tmpdir(), "gpuaas-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    ignoreHTTPSErrors: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`,
    ],
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * page.goto, retried when Chromium aborts the navigation with net::ERR_NETWORK_CHANGED: it does
 * that whenever a network interface comes or goes on the host (a container runtime creating a
 * veth, say), which says nothing about the route under test.
 */
async function gotoSteady(page: Page, url: string): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await page.goto(url);
      return;
    } catch (error) {
      if (attempt >= 3 || !String(error).includes("net::ERR_NETWORK_CHANGED")) throw error;
    }
  }
}

describe("managed browser route in Chromium", { skip: missing, timeout: 120_000 }, () => {
  let dir: string;
  let h: Harness;
  let caddy: CaddyProcess | undefined;
  let upstream: VerifyingUpstream;
  let controlUrl = "";
  let edgePort = 0;
  let appUrl = "";
  let host = "";
  let memberId = "";
  let instanceId = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gpuaas-ingress-browser-"));
    const cert = join(dir, "apps.pem");
    const key = join(dir, "apps-key.pem");
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=*.${DOMAIN}`,
        "-addext",
        `subjectAltName=DNS:*.${DOMAIN}`,
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { encoding: "utf8" },
    );
    assert.equal(made.status, 0, made.stderr);
    edgePort = await findFreePort();
    const adminPort = await findFreePort();
    const admin = createCaddyAdmin({ endpoint: `http://127.0.0.1:${adminPort}` });
    h = await startHarness({
      webConsoleDir: WEB_DIST,
      config: {
        data_dir: dir,
        oci_node_tasks_enabled: true,
        agent_sweep_interval_ms: 0,
        managed_ingress_host_map: HOST_MAP,
        ingress_domain: DOMAIN,
        ingress_public_scheme: "https",
        ingress_public_port: edgePort,
        caddy_admin_url: `http://127.0.0.1:${adminPort}`,
        ingress_edge_retry_ms: 200,
        log_level: "warn",
      },
    });
    controlUrl = await h.app.listen({ host: "127.0.0.1", port: 0 });
    caddy = await startCaddy(
      renderCaddyConfig([], {
        adminListen: `127.0.0.1:${adminPort}`,
        listen: [`127.0.0.1:${edgePort}`],
        authDial: new URL(controlUrl).host,
        authPath: FORWARD_AUTH_PATH,
        tls: { certificateFile: cert, keyFile: key },
      }),
      admin,
    );
    // The console's own address is the issuer when no console URL is configured.
    upstream = await startVerifyingUpstream(`${controlUrl}/.well-known/jwks.json`, controlUrl);
    const world = await seedLaunchWorld(h.store.db, h.projectId);
    const agent = await TestAgent.register(
      h.app,
      await mintBootstrapToken(h.app, h.auth("operator"), world.node.id),
    );
    const me = await callApi(h.app, {
      method: "GET",
      url: "/api/v1/me",
      headers: h.auth("project_member"),
    });
    memberId = me.json.user.id;
    const launched = await callApi(h.app, {
      method: "POST",
      url: `/api/v1/projects/${h.projectId}/app-instances`,
      headers: h.auth("project_member"),
      body: launchBody(world.allocation.id, {
        config: {
          workspace_mount: "scratch",
          exposure_mode: "managed_ingress",
          host_port: upstream.port,
          python_packages: "",
        },
      }),
    });
    assert.equal(launched.status, 202, launched.body);
    instanceId = launched.json.id;
    const leases = await agent.lease({ max: 4 });
    const lease = leases.json.leases[0];
    const result = await agent.result(lease.task_id, "succeeded", {
      container_name: `gpuaas-${launched.json.id}`,
      container_id: randomBytes(32).toString("hex"),
      ports: [{ endpoint: "web", container_port: 8888, host_port: upstream.port }],
    });
    assert.equal(result.json.instance.state, "running", result.body);
    const endpoints = await callApi(h.app, {
      method: "GET",
      url: `/api/v1/projects/${h.projectId}/app-instances/${launched.json.id}/endpoints`,
      headers: h.auth("project_member"),
    });
    const [web] = endpoints.json.items;
    appUrl = web.managed.url;
    host = web.managed.public_host;
    assert.equal(appUrl, `https://${host}:${edgePort}/lab`);
    await waitFor("the route on the edge", () =>
      admin.getRoute(toCaddyRouteId(web.managed.route_id)),
    );
  });

  after(async () => {
    await h?.close();
    await caddy?.stop();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function signInOnConsole(page: Page, role: Role): Promise<void> {
    await page.getByLabel("Access token").fill(h.tokens[role]);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  it("signs a signed-out browser in through the console and opens the original path on the app's own host", async () => {
    const browser = await launchBrowser();
    try {
      const { page, context } = browser;
      const target = `https://${host}:${edgePort}/lab/tree/notes.ipynb?kernel=py3`;
      await gotoSteady(page, target);
      // The edge sent the browser to the console's sign-in, which asks for the console session.
      await page.waitForURL(
        (url) => url.origin === controlUrl && url.pathname === "/ingress/sign-in",
      );
      assert.equal(new URL(page.url()).searchParams.get("rd"), target);
      await signInOnConsole(page, "project_member");
      await page.waitForURL(target);
      const seen = JSON.parse(((await page.locator("body").textContent()) ?? "").trim()) as Seen;
      assert.equal(seen.url, "/lab/tree/notes.ipynb?kernel=py3");
      assert.equal(seen.headers["x-platform-user"], memberId);
      assert.ok(seen.assertion.ok, JSON.stringify(seen.assertion));
      // The edge cut the app session out of the Cookie header (an empty header may remain).
      assert.ok(
        !String(seen.headers.cookie ?? "").includes("gpuaas"),
        `no platform cookie reaches the workload: ${String(seen.headers.cookie)}`,
      );

      const appCookies = await context.cookies(`https://${host}:${edgePort}/`);
      const session = appCookies.find((cookie) => cookie.name === APP_SESSION_COOKIE);
      assert.ok(session, JSON.stringify(appCookies));
      assert.equal(session.domain, host, "host-only");
      assert.equal(session.secure, true);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, "Lax");
      assert.deepEqual(
        appCookies.map((cookie) => cookie.name),
        [APP_SESSION_COOKIE],
        "the console's cookie stays on the console's origin",
      );
      const consoleCookies = await context.cookies(controlUrl);
      assert.deepEqual(
        consoleCookies.map((cookie) => cookie.name),
        ["gpuaas_session"],
      );
      assert.notEqual(
        consoleCookies[0]?.value,
        session.value,
        "the app session is a token of its own",
      );

      // Later visits go straight through on the app's session.
      await gotoSteady(page, appUrl);
      assert.equal(page.url(), appUrl);
      const again = JSON.parse(((await page.locator("body").textContent()) ?? "").trim()) as Seen;
      assert.equal(again.headers["x-platform-user"], memberId);

      // The console's Endpoints & access tab links the managed URL.
      await gotoSteady(page, `${controlUrl}/instances/${instanceId}/access`);
      const link = page.locator("[data-endpoint='web'] [data-managed-url]");
      await link.waitFor();
      assert.equal(await link.getAttribute("href"), appUrl);
      assert.equal((await link.textContent())?.trim(), appUrl);
    } finally {
      await browser.close();
    }
  });

  it("shows another project's user the console's refusal, and never sets a cookie on the app's host", async () => {
    const browser = await launchBrowser();
    try {
      const { page, context } = browser;
      await gotoSteady(page, appUrl);
      await page.waitForURL((url) => url.origin === controlUrl);
      await signInOnConsole(page, "other_project_member");
      await page.getByText("You may not open this endpoint").waitFor();
      assert.equal(new URL(page.url()).origin, controlUrl);
      assert.deepEqual(await context.cookies(`https://${host}:${edgePort}/`), []);
    } finally {
      await browser.close();
    }
  });
});
