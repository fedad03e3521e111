// The browser suite's world: a real `gpuaas up` (child process, temporary data directory, port 0,
// node tasks enabled) serving the built console, a real loopback OCI registry with pushed images,
// operator seeding through the API, and Debian's Chromium driven by playwright-core with the
// flags ENVIRONMENT.md lists and a fresh profile directory.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import YAML from "yaml";
import {
  type PushedImage,
  pushImage,
  type RegistryFixture,
  startRegistry,
} from "../../server/test/registry-fixture.js";

const ROOT = new URL("../../../", import.meta.url).pathname;
const BIN = join(ROOT, "packages/cli/dist/bin.js");
/** Screenshots of every page, looked at by eye; CI keeps them as artifacts. */
export const SCREENSHOT_DIR = join(ROOT, "test-results/web");
const CHROMIUM = "/usr/bin/chromium";
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** A running control plane. */
export interface ControlPlaneProcess {
  readonly url: string;
  readonly token: string;
  readonly stdout: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts `gpuaas up` and resolves once it prints its URL and token. */
export async function startControlPlane(registryUrl: string): Promise<ControlPlaneProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), "gpuaas-web-"));
  const child = spawn(
    process.execPath,
    [
      BIN,
      "up",
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--registry-url",
      registryUrl,
      "--enable-oci-node-tasks",
      // The browser suite seeds its own node and allocation as an operator would; the in-process
      // agent (and the local allocation it brings) is covered by test/e2e.
      "--no-agent",
    ],
    {
      env: { ...process.env, DATABASE_URL: "", GPUAAS_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + String(chunk)).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    await stopChild(child, exited);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gpuaas up did not start in ${START_TIMEOUT_MS} ms: ${stderr}`)),
        START_TIMEOUT_MS,
      );
      child.stdout?.on("data", (chunk: Buffer) => {
        stdout += String(chunk);
        const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
        const token = /\n\s+(gpuaas_pat_[A-Za-z0-9_-]+)\n/.exec(stdout)?.[1];
        if (url !== undefined && token !== undefined && stdout.includes("try:")) {
          clearTimeout(timer);
          resolve({ url, token });
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`gpuaas up exited with ${code}: ${stderr}`));
      });
    });
    if (child.pid === undefined) throw new Error("gpuaas up has no pid");
    return { url, token, stdout, pid: child.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill("SIGTERM");
  const timer = new Promise<"timeout">((resolve) =>
    setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref(),
  );
  if ((await Promise.race([exited, timer])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

/** A bearer-token API client for seeding as the operator. */
export function createOperatorApi(url: string, token: string) {
  return async function api<T = Record<string, unknown>>(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<T> {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  };
}

/** What the seeding created. */
export interface Seeded {
  readonly projectId: string;
  readonly nodeId: string;
  readonly allocationId: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly images: Readonly<Record<string, PushedImage>>;
}

/**
 * Seeds the world a user needs, as an operator would through the API: a node, a CPU allocation
 * (amd64, 8 cores, 32 GiB, scratch and project storage) for the default project, and verified,
 * published images: JupyterLab's CPU runtime, OpenClaw's amd64 gateway, and code-server's arm64
 * image only (so code-server fits no allocation of the project).
 */
export async function seedWorld(
  api: ReturnType<typeof createOperatorApi>,
  registry: RegistryFixture,
): Promise<Seeded> {
  const me = await api<{ projects: { id: string }[] }>("GET", "/me");
  const projectId = me.projects[0]?.id;
  if (projectId === undefined) throw new Error("the operator has no project");
  const catalog = await api<{ items: { slug: string; versions: { version: string }[] }[] }>(
    "GET",
    "/apps/catalog",
  );
  const versions: Record<string, string> = {};
  for (const app of catalog.items) versions[app.slug] = app.versions[0]?.version ?? "";
  const node = await api<{ id: string }>("POST", "/nodes", { name: "gpu-host-1" });
  const allocation = await api<{ id: string }>("POST", "/allocations", {
    project_id: projectId,
    node_id: node.id,
    accelerator: { vendor: "none" },
    cpu_architecture: "amd64",
    gpu_indices: [],
    cpu_cores: 8,
    memory_gib: 32,
    storage_modes: ["scratch", "project_storage"],
  });
  const images: Record<string, PushedImage> = {};
  const publish = async (
    slug: string,
    artifactName: string,
    architecture: "amd64" | "arm64",
  ): Promise<void> => {
    const image = await pushImage(registry.url, artifactName, { seed: `${slug}-${architecture}` });
    images[artifactName] = image;
    const artifact = await api<{ id: string }>(
      "POST",
      `/apps/catalog/${slug}/versions/${versions[slug]}/artifacts`,
      {
        artifact_name: artifactName,
        repository: `${registry.host}/${artifactName}`,
        digest: image.digest,
        media_type: image.media_type,
        platform: { os: "linux", architecture },
        accelerator: { vendor: "none" },
      },
    );
    await api("POST", `/artifacts/${artifact.id}/verify`);
    await api("POST", `/artifacts/${artifact.id}/transitions`, { to: "published" });
  };
  await publish("jupyterlab", "jupyterlab/runtime-cpu", "amd64");
  await publish("openclaw", "openclaw/gateway-amd64", "amd64");
  await publish("code-server", "code-server/runtime-arm64", "arm64");
  return { projectId, nodeId: node.id, allocationId: allocation.id, versions, images };
}

/**
 * Registers a profile no code of the console knows — "Sketchbook", derived from code-server's
 * manifest with its own steps (Placement, Preferences, Sizing, Confirm) and two inputs of its own
 * (an enum and a boolean) — publishes it, entitles the project and publishes an image for it, as
 * an operator would for a new app.
 */
export async function registerSketchbook(
  api: ReturnType<typeof createOperatorApi>,
  registry: RegistryFixture,
  projectId: string,
): Promise<{ readonly version: string; readonly digest: string }> {
  const manifest = YAML.parse(readFileSync(join(ROOT, "profiles/code-server.yaml"), "utf8"));
  manifest.profile = {
    ...manifest.profile,
    slug: "sketchbook",
    display_name: "Sketchbook",
    description: "A scratch editor for notes and snippets, next to your allocation's data.",
  };
  manifest.artifacts = {
    cpu_image: { ...manifest.artifacts.amd64_image, artifact_name: "sketchbook/runtime" },
  };
  const properties = manifest.parameters.schema.properties;
  properties.theme = {
    type: "string",
    title: "Editor theme",
    enum: ["light", "dark", "high_contrast"],
    default: "dark",
  };
  properties.autosave = {
    type: "boolean",
    title: "Autosave",
    description: "Save files while you type.",
    default: true,
  };
  manifest.parameters.ui = {
    launch_wizard: {
      steps: [
        {
          id: "placement",
          title: "Placement",
          description: "Where the editor runs and which image it runs.",
          components: [
            { kind: "platform.target_allocation", required: true },
            { kind: "platform.artifact_selector", required: true },
          ],
        },
        {
          id: "preferences",
          title: "Preferences",
          description: "How the editor looks and keeps your work.",
          components: [
            { kind: "field", name: "theme", required: true },
            { kind: "field", name: "autosave", required: false },
            { kind: "field", name: "workspace_mount", required: true },
          ],
        },
        {
          id: "sizing",
          title: "Sizing",
          components: [
            { kind: "field", name: "cpu_cores", required: true },
            { kind: "field", name: "memory_gib", required: true },
            { kind: "field", name: "exposure_mode", required: true },
            { kind: "field", name: "host_port", required: false },
          ],
        },
        {
          id: "confirm",
          title: "Confirm",
          components: [{ kind: "platform.review", required: true }],
        },
      ],
    },
  };
  const version = "1.0.0";
  await api("POST", "/apps/catalog/sketchbook/versions", { version, manifest });
  await api("POST", `/apps/catalog/sketchbook/versions/${version}/publication`, {
    published: true,
  });
  await api("PUT", `/projects/${projectId}/apps/entitlements/sketchbook`, { enabled: true });
  const image = await pushImage(registry.url, "sketchbook/runtime", { seed: "sketchbook" });
  const artifact = await api<{ id: string }>(
    "POST",
    `/apps/catalog/sketchbook/versions/${version}/artifacts`,
    {
      artifact_name: "sketchbook/runtime",
      repository: `${registry.host}/sketchbook/runtime`,
      digest: image.digest,
      media_type: image.media_type,
      platform: { os: "linux", architecture: "amd64" },
      accelerator: { vendor: "none" },
    },
  );
  await api("POST", `/artifacts/${artifact.id}/verify`);
  await api("POST", `/artifacts/${artifact.id}/transitions`, { to: "published" });
  return { version, digest: image.digest };
}

/** A browser context on a fresh profile directory; close() removes the directory. */
export interface BrowserSession {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium headless with the project's flags on a fresh `--user-data-dir`
 * (playwright passes it for a persistent context; it refuses the raw flag).
 */
export async function launchBrowser(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: apt-get install chromium (npm test installs it as root)`,
    );
  const profile = mkdtempSync(join(tmpdir(), "gpuaas-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
    reducedMotion: "reduce",
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Saves a full-page screenshot as test-results/web/<name>.png. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  return path;
}

export { startRegistry };
