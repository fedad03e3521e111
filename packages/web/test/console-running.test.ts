// The web console driving a workload all the way to `running` in a real browser: `gpuaas up` with
// its in-process node agent on podman, a token-auth loopback registry trusting the control plane's
// token signer (as test/e2e sets it up), and Debian's Chromium. JupyterLab's real notebook image
// cannot be fetched here, so a stand-in is registered for its curated version: busybox `httpd` on
// port 8888 answering `/api` with 200 (what the profile's readiness probe asks). The user signs in
// with the login link, launches JupyterLab through every wizard step on the local allocation, sees
// it reach Running, reads Events and Logs, stops and decommissions it, and no container is left.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { type ApiClient, createApiClient } from "../../../test/e2e/fixtures/api-client.js";
import { type RunningUp, startUp } from "../../../test/e2e/fixtures/gpuaas-processes.js";
import {
  buildJupyterStandInImage,
  hostArchitecture,
  OCI_MANIFEST_TYPE,
  pushImage,
} from "../../../test/e2e/fixtures/workload-image.js";
import { findFreePort } from "../../server/test/registry-fixture.js";
import {
  startTokenRegistry,
  type TokenRegistry,
} from "../../server/test/token-registry-fixture.js";
import { type BrowserSession, launchBrowser, saveScreenshot } from "./console-harness.js";

const execFileAsync = promisify(execFile);
const RUNTIME = "podman";
const ARTIFACT = "jupyterlab/runtime-cpu";
const RUNNING_TIMEOUT_MS = 60_000;
const present = spawnSync(RUNTIME, ["--version"], { stdio: "ignore" }).status === 0;

describe("web console: a launch that reaches running on the local node", {
  skip: present ? false : `${RUNTIME} is not installed`,
}, () => {
  const run = randomBytes(3).toString("hex");
  let dir = "";
  let up: RunningUp | undefined;
  let registry: TokenRegistry | undefined;
  let browser: BrowserSession | undefined;
  let page: Page;
  let api: ApiClient;
  let projectId = "";
  let allocationId = "";
  let digest = "";
  let hostPort = 0;
  let instanceId = "";
  /** The agent's podman settings, so this test's own podman calls see the same storage. */
  let runtimeEnv: Record<string, string> = {};
  const timings: Record<string, number> = {};
  const problems: string[] = [];

  async function runtimeCli(args: readonly string[]): Promise<string> {
    const { stdout } = await execFileAsync(RUNTIME, [...args], {
      env: { ...process.env, ...runtimeEnv },
      encoding: "utf8",
      timeout: 60_000,
    });
    return stdout;
  }

  /** Container ids labelled with the instance, running or not. */
  async function containersOf(id: string): Promise<string[]> {
    const out = await runtimeCli([
      "ps",
      "-a",
      "--filter",
      `label=dev.gpuaas.instance=${id}`,
      "--format",
      "{{.ID}}",
    ]);
    return out.split("\n").filter((line) => line.trim().length > 0);
  }

  function badge(state: string) {
    return page.locator(`[data-testid='instance-state'] [data-state='${state}']`);
  }

  async function next(): Promise<void> {
    await page.getByRole("button", { name: "Next", exact: true }).click();
  }

  async function expectStep(title: string): Promise<void> {
    await page.getByRole("heading", { level: 2, name: title, exact: true }).waitFor();
  }

  async function eventsText(): Promise<string> {
    const answer = await api.call(
      "GET",
      `/projects/${projectId}/app-instances/${instanceId}/events?limit=200`,
    );
    return answer.text;
  }

  before(async () => {
    const started = Date.now();
    dir = await mkdtemp(join(tmpdir(), "gpuaas-web-running-"));
    runtimeEnv = { CONTAINERS_CONF: join(dir, "data", "agent", "containers.conf") };
    const registryPort = await findFreePort();
    up = await startUp({
      dataDir: join(dir, "data"),
      registryUrl: `http://127.0.0.1:${registryPort}`,
      agentRuntime: RUNTIME,
    });
    registry = await startTokenRegistry({
      realm: `${up.url}/api/v1/registry/token`,
      service: "gpuaas-registry",
      issuer: "gpuaas-control-plane",
      rootCertBundle: up.certFile,
      port: registryPort,
    });
    const image = await buildJupyterStandInImage(`web running ${run}`);
    digest = await pushImage(registry.pushUrl, ARTIFACT, "stand-in", image, "oci");

    api = createApiClient(up.url, up.operatorToken);
    const me = await api.expect(200, "GET", "/me");
    projectId = (me.json.projects as { id: string; slug: string }[]).find(
      (project) => project.slug === "default",
    )?.id as string;
    const allocations = await api.expect(200, "GET", `/projects/${projectId}/allocations`);
    assert.equal(allocations.json.items.length, 1, "gpuaas up made one local allocation");
    allocationId = allocations.json.items[0].id as string;
    const catalog = await api.expect(200, "GET", "/apps/catalog");
    const jupyter = (
      catalog.json.items as { slug: string; versions: { version: string }[] }[]
    ).find((app) => app.slug === "jupyterlab");
    const version = jupyter?.versions[0]?.version;
    assert.ok(version !== undefined, "the curated JupyterLab version is in the catalog");

    // As an operator: the stand-in registered for the curated version, verified, published.
    const artifact = await api.expect(
      201,
      "POST",
      `/apps/catalog/jupyterlab/versions/${version}/artifacts`,
      {
        artifact_name: ARTIFACT,
        repository: `${registry.host}/${ARTIFACT}`,
        digest,
        media_type: OCI_MANIFEST_TYPE,
        platform: { os: "linux", architecture: hostArchitecture() },
        accelerator: { vendor: "none" },
      },
    );
    const artifactId = artifact.json.id as string;
    const verified = await api.expect(200, "POST", `/artifacts/${artifactId}/verify`);
    assert.equal(verified.json.state, "verified", verified.text);
    await api.expect(200, "POST", `/artifacts/${artifactId}/transitions`, { to: "published" });
    hostPort = await findFreePort();

    browser = await launchBrowser();
    page = browser.page;
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    timings.setup = Date.now() - started;
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await up?.stop().catch(() => undefined);
    // Whatever a failed run left: the instance's containers and the pulled stand-in image.
    if (instanceId !== "") {
      const left = await containersOf(instanceId).catch(() => []);
      if (left.length > 0) await runtimeCli(["rm", "-f", ...left]).catch(() => "");
    }
    if (registry !== undefined && digest !== "")
      await runtimeCli(["rmi", "-f", `${registry.host}/${ARTIFACT}@${digest}`]).catch(() => "");
    await registry?.stop().catch(() => undefined);
    if (dir !== "") await rm(dir, { recursive: true, force: true });
    console.log(`web running timings (ms): ${JSON.stringify(timings)}`);
  });

  it("signs in with the login link and launches JupyterLab through every wizard step", async () => {
    const url = up?.url ?? "";
    await page.goto(`${url}/catalog#token=${up?.operatorToken ?? ""}`);
    await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor();
    assert.equal(page.url(), `${url}/catalog`);
    const card = page.locator('[data-app="jupyterlab"]');
    await card.getByText("Ready to launch").waitFor();
    await card.getByRole("link", { name: /^Launch/ }).click();
    await page.getByRole("heading", { level: 1, name: "Launch JupyterLab" }).waitFor();
    assert.deepEqual(await page.locator(".stepper .step-title").allTextContents(), [
      "Target",
      "Runtime",
      "Resources",
      "Storage",
      "Access",
      "Review",
    ]);

    await expectStep("Target");
    const allocation = page.locator(`[data-component='platform.target_allocation'] input`);
    assert.equal(await allocation.count(), 1, "the local allocation is the only target");
    await allocation.check();
    await next();
    await expectStep("Runtime");
    await page.locator(`[data-digest="${digest}"]`).waitFor();
    await next();
    await expectStep("Resources");
    await page.getByLabel("GPUs").fill("0");
    await next();
    await expectStep("Storage");
    await page.getByLabel("Workspace storage").selectOption({ label: "Scratch" });
    await next();
    await expectStep("Access");
    await page.getByLabel("Host port").fill(String(hostPort));
    await next();
    await expectStep("Review");
    await page.locator(`[data-review-digest="${digest}"]`).waitFor();
    const review = (await page.locator("[data-component='platform.review']").textContent()) ?? "";
    assert.match(review, new RegExp(allocationId));
    await page.getByLabel("Instance name").fill("Notebook on this host");
    const launched = Date.now();
    await page.getByRole("button", { name: "Launch", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: /Notebook on this host/ }).waitFor();
    instanceId = decodeURIComponent(new URL(page.url()).pathname.split("/")[2] ?? "");
    assert.ok(instanceId.length > 0);

    // The badge turns Running without a reload: the agent pulled, started and probed `/api`.
    await badge("running")
      .waitFor({ timeout: RUNNING_TIMEOUT_MS })
      .catch(async (error: unknown) => {
        throw new Error(`not running: ${String(error)}\nevents: ${await eventsText()}`);
      });
    timings.launchToRunning = Date.now() - launched;
    assert.equal(await badge("running").textContent(), "Running");
    await page.locator(`[data-instance-digest="${digest}"]`).waitFor();
    await saveScreenshot(page, "20-running-overview");

    // The endpoint is the stand-in, on the chosen loopback port of this host.
    const probe = await fetch(`http://127.0.0.1:${hostPort}/api`, {
      signal: AbortSignal.timeout(5_000),
    });
    assert.equal(probe.status, 200);
    assert.match(await probe.text(), /stand-in/);
    assert.equal((await containersOf(instanceId)).length, 1);
  });

  it("shows the launched event and the container's log lines", async () => {
    await page.getByRole("link", { name: "Events", exact: true }).click();
    const launched = page.locator("[data-event-type='instance.launched']");
    await launched.first().waitFor();
    await saveScreenshot(page, "22-running-events");

    await page.getByRole("link", { name: "Logs", exact: true }).click();
    const lines = page.getByLabel("Log lines");
    await lines.filter({ hasText: "jupyterlab stand-in listening on 8888" }).waitFor();
    assert.match((await lines.textContent()) ?? "", /jupyterlab stand-in booting/);
    await saveScreenshot(page, "21-running-logs");
  });

  it("stops and decommissions the instance with confirmations, leaving no container", async () => {
    await page.getByRole("link", { name: "Overview", exact: true }).click();
    await page.getByRole("button", { name: "Stop", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Stop instance" }).click();
    await badge("stopped").waitFor({ timeout: 30_000 });
    assert.equal(await badge("stopped").textContent(), "Stopped");
    await saveScreenshot(page, "23-running-stopped");

    await page.getByRole("button", { name: "Decommission", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Decommission this instance?" });
    await dialog.getByRole("button", { name: "Decommission" }).click();
    await badge("decommissioned").waitFor({ timeout: 30_000 });
    assert.equal(await badge("decommissioned").textContent(), "Decommissioned");
    await saveScreenshot(page, "24-running-decommissioned");
    assert.deepEqual(await containersOf(instanceId), [], "no container is left");
  });

  it("ran without page errors", () => {
    assert.deepEqual(problems, []);
  });
});
