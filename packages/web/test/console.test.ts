// The web console in a real browser (Debian's Chromium via playwright-core) against a real
// `gpuaas up` serving the built console, seeded as an operator through the API with a real
// loopback OCI registry. Every page is saved as a screenshot under test-results/web/.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Locator, Page } from "playwright-core";
import type { RegistryFixture } from "../../server/test/registry-fixture.js";
import {
  type BrowserSession,
  type ControlPlaneProcess,
  createOperatorApi,
  launchBrowser,
  registerSketchbook,
  type Seeded,
  saveScreenshot,
  seedWorld,
  startControlPlane,
  startRegistry,
} from "./console-harness.js";

interface ProfileView {
  readonly parameters: {
    readonly ui: { readonly launch_wizard: { readonly steps: readonly { title: string }[] } };
  };
}

interface InstanceView {
  readonly id: string;
  readonly state: string;
  readonly correlation_id: string;
  readonly resolved_digest: string;
  readonly resolved_values: {
    readonly config: Record<string, unknown>;
    readonly resources: Record<string, number>;
  };
}

describe("web console", () => {
  let registry: RegistryFixture;
  let plane: ControlPlaneProcess;
  let browser: BrowserSession;
  let page: Page;
  let api: ReturnType<typeof createOperatorApi>;
  let seeded: Seeded;
  /** Page errors and CSP violations seen during the whole run. */
  const problems: string[] = [];
  let jupyterInstanceId = "";

  before(async () => {
    registry = await startRegistry();
    plane = await startControlPlane(registry.url);
    api = createOperatorApi(plane.url, plane.token);
    seeded = await seedWorld(api, registry);
    browser = await launchBrowser();
    page = browser.page;
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text()))
        problems.push(`console: ${message.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await plane?.stop();
    await registry?.stop();
  });

  /** The launch wizard's step titles as the manifest declares them. */
  async function manifestSteps(slug: string): Promise<string[]> {
    const versions = await api<{ items: { profile: ProfileView }[] }>(
      "GET",
      `/apps/catalog/${slug}/versions`,
    );
    const profile = versions.items[0]?.profile;
    assert.ok(profile !== undefined);
    return profile.parameters.ui.launch_wizard.steps.map((step) => step.title);
  }

  async function stepperTitles(): Promise<string[]> {
    return page.locator(".stepper .step-title").allTextContents();
  }

  async function expectStep(title: string): Promise<void> {
    await page.getByRole("heading", { level: 2, name: title, exact: true }).waitFor();
    assert.equal(await textOf(page.locator(".stepper [aria-current='step'] .step-title")), title);
  }

  /** The error text a control announces: the role=alert element its aria-describedby names. */
  async function describedError(control: Locator): Promise<string> {
    const ids = ((await control.getAttribute("aria-describedby")) ?? "").split(/\s+/);
    for (const id of ids.filter(Boolean)) {
      const target = page.locator(`[id="${id}"]`);
      if ((await target.count()) === 1 && (await target.getAttribute("role")) === "alert")
        return textOf(target);
    }
    return "";
  }

  /** A locator's text (`textContent`, never null). */
  async function textOf(locator: Locator): Promise<string> {
    return (await locator.textContent()) ?? "";
  }

  /** The label of a select's chosen option (rjsf's option values are indexes). */
  async function chosen(select: Locator): Promise<string> {
    return textOf(select.locator("option:checked"));
  }

  async function next(): Promise<void> {
    await page.getByRole("button", { name: "Next", exact: true }).click();
  }

  async function stateOf(): Promise<string> {
    return (await page
      .locator("[data-testid='instance-state'] [data-state]")
      .getAttribute("data-state")) as string;
  }

  it("serves the console from the control plane with security headers; /api stays JSON", async () => {
    const html = await fetch(`${plane.url}/instances/anything`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get("content-type") ?? "", /text\/html/);
    const csp = html.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(html.headers.get("x-content-type-options"), "nosniff");
    assert.equal(html.headers.get("referrer-policy"), "no-referrer");
    assert.match(await html.text(), /<div id="root">/);
    const missing = await fetch(`${plane.url}/api/v1/no-such-route`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, "request.not_found");
    const asset = await fetch(`${plane.url}/assets/no-such-file.js`);
    assert.equal(asset.status, 404);
    assert.doesNotMatch(await asset.text(), /<html/);
    assert.match(plane.stdout, /console: {2}http:\/\/127\.0\.0\.1:\d+\/#token=gpuaas_pat_/);
  });

  it("signs in with a login link, strips the token from the address bar and keeps no token", async () => {
    await page.goto(`${plane.url}/`);
    await page.getByRole("heading", { name: "Sign in to the console" }).waitFor();
    const input = page.getByLabel("Access token");
    await input.fill("gpuaas_pat_not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "unknown, revoked or expired" }).waitFor();
    assert.match(await describedError(input), /unknown, revoked or expired/);
    await saveScreenshot(page, "01-sign-in");

    await page.goto(`${plane.url}/catalog#token=${plane.token}`);
    await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor();
    assert.equal(page.url(), `${plane.url}/catalog`);
    const cookie = String(await page.evaluate("document.cookie"));
    assert.doesNotMatch(cookie, /gpuaas_session/, "the session cookie is HttpOnly");
    const stored = String(
      await page.evaluate(
        "JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})",
      ),
    );
    assert.doesNotMatch(stored, /gpuaas_pat_/);
    assert.doesNotMatch(await page.content(), /gpuaas_pat_/);
  });

  it("shows catalog cards, launchable only where a published image fits an allocation", async () => {
    const card = (slug: string) => page.locator(`[data-app="${slug}"]`);
    await card("jupyterlab").getByText("Ready to launch").waitFor();
    assert.equal(await page.locator("[data-app]").count(), 4);
    assert.match(await textOf(card("jupyterlab")), /JupyterLab[\s\S]*Platform curated/);
    assert.equal(
      await card("jupyterlab")
        .getByRole("link", { name: /^Launch/ })
        .count(),
      1,
    );
    // code-server has an arm64 image only; the project's allocation is amd64.
    await card("code-server").getByText("Not launchable").waitFor();
    assert.match(await textOf(card("code-server")), /image is arm64, allocation is amd64/);
    assert.equal(
      await card("code-server")
        .getByRole("link", { name: /^Launch/ })
        .count(),
      0,
    );
    assert.match(await textOf(card("vllm-openai")), /No published image yet/);
    await saveScreenshot(page, "02-catalog");
  });

  it("previews a profile, with the raw manifest only behind Advanced", async () => {
    await page
      .locator('[data-app="jupyterlab"]')
      .getByRole("link", { name: "View profile" })
      .click();
    await page.getByRole("heading", { level: 1, name: "JupyterLab" }).waitFor();
    for (const section of ["Profile", "Execution", "Resources", "Storage", "Endpoints", "Images"])
      await page.getByRole("heading", { level: 2, name: section, exact: true }).waitFor();
    assert.equal(await page.getByLabel("Raw manifest").count(), 0);
    await saveScreenshot(page, "03-profile-preview");
    const advanced = page.getByRole("button", { name: /advanced/i });
    assert.equal(await advanced.getAttribute("aria-expanded"), "false");
    await advanced.click();
    assert.match(await textOf(page.getByLabel("Raw manifest")), /"launch_wizard"/);
    await advanced.click();
    assert.equal(await page.getByLabel("Raw manifest").count(), 0);
  });

  it("launches JupyterLab through every wizard step generated from its manifest", async () => {
    const steps = await manifestSteps("jupyterlab");
    await page.getByRole("link", { name: "Launch", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: "Launch JupyterLab" }).waitFor();
    assert.deepEqual(await stepperTitles(), steps);

    // Target: the project's one active allocation, with its shape; GPUs fitted to it.
    await expectStep("Target");
    await page.getByText("Choose the active allocation that will host this workload.").waitFor();
    const allocation = page.getByRole("radio", { name: /CPU only · amd64/ });
    assert.equal(await allocation.isChecked(), true);
    await page.getByText("GPUs: 1 → 0").waitFor();
    await saveScreenshot(page, "04-wizard-target");
    // Keyboard: the Next button takes Enter, and focus lands on the next step's title.
    await page.getByRole("button", { name: "Next", exact: true }).focus();
    await page.keyboard.press("Enter");
    await expectStep("Runtime");
    assert.equal(await page.evaluate("document.activeElement?.textContent"), "Runtime");

    // Runtime: the verified image with its digest, and a package list the contract refuses.
    const digest = seeded.images["jupyterlab/runtime-cpu"]?.digest ?? "";
    await page.locator(`[data-digest="${digest}"]`).waitFor();
    const packages = page.getByLabel("Python packages");
    await packages.fill("--index-url x");
    await next();
    await expectStep("Runtime");
    assert.equal(await packages.getAttribute("aria-invalid"), "true");
    assert.match(await describedError(packages), /--index-url are not allowed/);
    assert.equal(
      await page.evaluate("document.activeElement?.getAttribute('aria-invalid')"),
      "true",
      "focus moves to the field that needs fixing",
    );
    await saveScreenshot(page, "05-wizard-runtime-error");
    await packages.fill("numpy==2.4.4");
    assert.equal(await describedError(packages), "");
    // Visible focus: keyboard focus on a button draws the focus ring.
    await page.keyboard.press("Tab");
    const outline = String(
      await page.evaluate("getComputedStyle(document.activeElement).outlineStyle"),
    );
    assert.notEqual(outline, "none");
    await next();

    // Resources: bounds from the profile; a value below the minimum is refused beside the field.
    await expectStep("Resources");
    const cpu = page.getByLabel("CPU cores");
    assert.equal(await page.getByLabel("GPUs").inputValue(), "0");
    await cpu.fill("1");
    await next();
    await expectStep("Resources");
    assert.match(await describedError(cpu), /below this profile's minimum of 2/);
    await cpu.fill("4");
    await page.getByLabel("Memory (GiB)").fill("8");
    await saveScreenshot(page, "06-wizard-resources");
    await next();

    // Storage and Access: enums are selects with readable options.
    await expectStep("Storage");
    await page.getByLabel("Workspace storage").selectOption({ label: "Project storage" });
    await next();
    await expectStep("Access");
    assert.equal(await chosen(page.getByLabel("Exposure")), "Private");
    assert.equal(await page.getByLabel("Host port").inputValue(), "8888");
    await next();

    // Review: target, digest, resource overrides, config and warnings, then launch.
    await expectStep("Review");
    await page.locator(`[data-review-digest="${digest}"]`).waitFor();
    const review = await textOf(page.locator("[data-component='platform.review']"));
    assert.match(review, new RegExp(seeded.allocationId));
    assert.match(review, /resource override/);
    assert.match(review, /numpy==2\.4\.4/);
    assert.match(review, /Project storage at \/workspace/);
    assert.match(review, /Private, 127\.0\.0\.1:8888 on the node/);
    assert.match(review, /Python package\(s\) are installed at every start/);
    await page.getByLabel("Instance name").fill("Research notebook");
    await saveScreenshot(page, "07-wizard-review");
    await page.getByRole("button", { name: "Launch", exact: true }).click();

    await page.getByRole("heading", { level: 1, name: /Research notebook/ }).waitFor();
    jupyterInstanceId = decodeURIComponent(new URL(page.url()).pathname.split("/")[2] ?? "");
    const instance = await api<InstanceView>(
      "GET",
      `/projects/${seeded.projectId}/app-instances/${jupyterInstanceId}`,
    );
    assert.equal(instance.resolved_digest, digest);
    assert.equal(instance.resolved_values.config.python_packages, "numpy==2.4.4");
    assert.equal(instance.resolved_values.config.workspace_mount, "project_storage");
    assert.deepEqual(instance.resolved_values.resources, {
      gpu_count: 0,
      cpu_cores: 4,
      memory_gib: 8,
    });
    assert.ok(["pending", "deploying", "running"].includes(await stateOf()));
    await page.locator(`[data-instance-digest="${digest}"]`).waitFor();
    await saveScreenshot(page, "08-instance-overview");
  });

  it("shows the instance's events, access, logs and the instance list", async (t) => {
    const node = await api<{ state: string }>("GET", `/nodes/${seeded.nodeId}`);
    if (node.state === "online") {
      // A node agent serves this node: the instance must reach running on its own.
      await page
        .locator("[data-testid='instance-state'] [data-state='running']")
        .waitFor({ timeout: 90_000 });
    } else {
      t.diagnostic(`no node agent joined (node ${node.state}): the instance stays queued`);
      assert.ok(["pending", "deploying"].includes(await stateOf()));
    }
    const instance = await api<InstanceView>(
      "GET",
      `/projects/${seeded.projectId}/app-instances/${jupyterInstanceId}`,
    );

    await page.getByRole("link", { name: "Events", exact: true }).click();
    const launched = page.locator("[data-event-type='instance.launch_requested']");
    await launched.waitFor();
    assert.match(await textOf(launched), new RegExp(instance.correlation_id));
    await saveScreenshot(page, "09-instance-events");

    await page.getByRole("link", { name: "Endpoints & access" }).click();
    const command = page.locator("[data-tunnel-command]");
    await command.filter({ hasText: "gpu-host-1" }).waitFor();
    assert.equal(await textOf(command), "ssh -N -L 8888:127.0.0.1:8888 admin@gpu-host-1");
    await page.getByLabel("Local port").fill("9999");
    assert.equal(await textOf(command), "ssh -N -L 9999:127.0.0.1:8888 admin@gpu-host-1");
    await saveScreenshot(page, "10-instance-access");

    await page.getByRole("link", { name: "Logs", exact: true }).click();
    await page
      .getByText(/No logs to show|Logs are not available yet|No log lines|Could not read the logs/)
      .or(page.getByLabel("Log lines"))
      .first()
      .waitFor();
    await page.getByRole("button", { name: "Refresh" }).click();
    await saveScreenshot(page, "11-instance-logs");

    await page
      .getByRole("navigation", { name: "Main" })
      .getByRole("link", { name: "Instances" })
      .click();
    const row = page.locator(`[data-instance="${jupyterInstanceId}"]`);
    await row.waitFor();
    assert.match(await textOf(row), /Research notebook[\s\S]*jupyterlab/);
    await saveScreenshot(page, "12-instances");
  });

  it("updates state live and decommissions with a confirmation", async () => {
    await page.locator(`[data-instance="${jupyterInstanceId}"]`).getByRole("link").first().click();
    await page.getByRole("heading", { level: 1, name: /Research notebook/ }).waitFor();
    if ((await page.getByRole("button", { name: "Stop", exact: true }).count()) > 0) {
      await page.getByRole("button", { name: "Stop", exact: true }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Stop instance" }).click();
      await page.locator("[data-testid='instance-state'] [data-state='stopping']").waitFor();
    }
    await page.getByRole("button", { name: "Decommission", exact: true }).click();
    const dialog = page.getByRole("dialog", { name: "Decommission this instance?" });
    await dialog.waitFor();
    await saveScreenshot(page, "13-decommission-confirm");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Decommission", exact: true }).click();
    await dialog.getByRole("button", { name: "Decommission" }).click();
    await page
      .locator("[data-testid='instance-state'] [data-state='decommissioning']")
      .or(page.locator("[data-testid='instance-state'] [data-state='decommissioned']"))
      .first()
      .waitFor();

    // A change made elsewhere (here: the API) shows up without a reload.
    const other = await api<InstanceView>("POST", `/projects/${seeded.projectId}/app-instances`, {
      app_slug: "jupyterlab",
      app_version: seeded.versions.jupyterlab,
      display_name: "Second notebook",
      placement_intent: { target_allocation_id: seeded.allocationId },
      resource_overrides: { gpu_count: 0 },
    });
    await page.goto(`${plane.url}/instances/${other.id}`);
    await page.getByRole("heading", { level: 1, name: /Second notebook/ }).waitFor();
    await api("POST", `/projects/${seeded.projectId}/app-instances/${other.id}/decommission`);
    await page
      .locator("[data-testid='instance-state'] [data-state='decommissioning']")
      .waitFor({ timeout: 10_000 });
  });

  it("renders OpenClaw's own wizard and maps a server refusal onto its field", async () => {
    const steps = await manifestSteps("openclaw");
    await page.goto(`${plane.url}/catalog`);
    await page
      .locator('[data-app="openclaw"]')
      .getByRole("link", { name: /^Launch/ })
      .click();
    await page.getByRole("heading", { level: 1, name: "Launch OpenClaw" }).waitFor();
    assert.deepEqual(await stepperTitles(), steps);
    assert.notDeepEqual(steps, await manifestSteps("jupyterlab"));

    await expectStep("Target");
    const digest = seeded.images["openclaw/gateway-amd64"]?.digest ?? "";
    // This manifest puts the allocation and the image on the same step.
    await page.locator("[data-component='platform.target_allocation']").waitFor();
    await page.locator(`[data-digest="${digest}"]`).waitFor();
    await saveScreenshot(page, "14-openclaw-target");
    await next();
    await expectStep("Gateway");
    assert.equal(await chosen(page.getByLabel("Gateway state")), "Project storage");
    await next();
    await expectStep("Access");
    assert.equal(await chosen(page.getByLabel("Exposure")), "Managed ingress");
    await next();
    await expectStep("Review");
    await page.getByRole("button", { name: "Launch", exact: true }).click();

    // Managed ingress is not configured here: the server's refusal lands beside Exposure.
    await expectStep("Access");
    const exposure = page.getByLabel("Exposure");
    assert.match(await describedError(exposure), /managed ingress is not configured/);
    await saveScreenshot(page, "15-openclaw-server-refusal");
    await exposure.selectOption({ label: "Private" });
    await next();
    await expectStep("Review");
    await page.getByRole("button", { name: "Launch", exact: true }).click();
    await page.waitForURL(/\/instances\/[^/]+$/);
    await page.getByRole("heading", { level: 1, name: /OpenClaw/ }).waitFor();
    assert.ok(["pending", "deploying", "running"].includes(await stateOf()));
  });

  it("gives a profile registered at run time its own wizard, with no code change", async () => {
    const sketchbook = await registerSketchbook(api, registry, seeded.projectId);
    await page.goto(`${plane.url}/catalog`);
    await page.locator('[data-app="sketchbook"]').getByText("Ready to launch").waitFor();
    await page
      .locator('[data-app="sketchbook"]')
      .getByRole("link", { name: /^Launch/ })
      .click();
    await page.getByRole("heading", { level: 1, name: "Launch Sketchbook" }).waitFor();
    assert.deepEqual(await stepperTitles(), ["Placement", "Preferences", "Sizing", "Confirm"]);
    await page.locator(`[data-digest="${sketchbook.digest}"]`).waitFor();
    await next();
    await expectStep("Preferences");
    await page.getByText("How the editor looks and keeps your work.").waitFor();
    const theme = page.getByLabel("Editor theme");
    assert.deepEqual(await theme.locator("option").allTextContents(), [
      "Light",
      "Dark",
      "High contrast",
    ]);
    assert.equal(await chosen(theme), "Dark");
    await theme.selectOption({ label: "High contrast" });
    const autosave = page.getByRole("checkbox", { name: "Autosave" });
    assert.equal(await autosave.isChecked(), true);
    await autosave.uncheck();
    await page.getByLabel("Workspace storage").selectOption({ label: "Scratch" });
    await saveScreenshot(page, "16-new-profile-wizard");
    await next();
    await expectStep("Sizing");
    await page.getByLabel("Exposure").selectOption({ label: "Private" });
    await next();
    await expectStep("Confirm");
    const review = await textOf(page.locator("[data-component='platform.review']"));
    assert.match(review, /Editor theme\s*High contrast/);
    assert.match(review, /Autosave\s*No/);
    await page.getByRole("button", { name: "Launch", exact: true }).click();
    await page.waitForURL(/\/instances\/[^/]+$/);
    await page.getByRole("heading", { level: 1, name: /Sketchbook/ }).waitFor();
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/")[2] ?? "");
    const instance = await api<InstanceView>(
      "GET",
      `/projects/${seeded.projectId}/app-instances/${id}`,
    );
    assert.equal(instance.resolved_values.config.theme, "high_contrast");
    assert.equal(instance.resolved_values.config.autosave, false);
    assert.equal(instance.resolved_digest, sketchbook.digest);
  });

  it("signs out and ran without page errors or CSP violations", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in to the console" }).waitFor();
    await page.getByText("You are signed out.").waitFor();
    const me = await page.evaluate("fetch('/api/v1/me').then((r) => r.status)");
    assert.equal(me, 401);
    assert.deepEqual(problems, []);
  });
});
