import { readFileSync } from "node:fs";
import { validateProfile, type WorkloadProfile } from "@gpuaas/contract";
import YAML from "yaml";
import type { RouteInstance, RouteIntentInput } from "./route-intent.js";

/** The repository root, for the curated profiles and fixtures. */
export const ROOT = new URL("../../../", import.meta.url);

/** Reads, validates and normalizes a profile file of the repository (path from the root). */
export function loadProfile(path: string): WorkloadProfile {
  const manifest: unknown = YAML.parse(readFileSync(new URL(path, ROOT), "utf8"));
  const { ok, issues, profile } = validateProfile(manifest);
  if (!ok || profile === undefined) {
    throw new Error(`${path} is not a valid profile: ${JSON.stringify(issues)}`);
  }
  return profile;
}

/** The operator host map of the worked examples (reference §1). */
export const HOST_MAP = {
  "jupyterlab.web": "jupyter.apps.example.test",
  "vllm-openai.openai": "openai.apps.example.test",
  "code-server.editor": "*.apps.example.test",
} as const;

/** An instance of `slug` with a fixed id. */
export function makeInstance(slug: string, shortId = "abc123"): RouteInstance {
  return {
    id: `inst-${shortId}`,
    short_id: shortId,
    project_id: "proj-1",
    owner_user_id: "user-alice",
    app_slug: slug,
  };
}

/** The JupyterLab example: browser, websocket, upstream 10.0.0.5:8888. */
export function jupyterInput(path = "profiles/jupyterlab.yaml"): RouteIntentInput {
  return {
    profile: loadProfile(path),
    instance: makeInstance("jupyterlab"),
    upstream: { web: { host: "10.0.0.5", port: 8888 } },
    hostMap: HOST_MAP,
    domain: "apps.example.test",
  };
}

/** The vLLM example: API bearer, long timeout, upstream 10.0.0.6:8000. */
export function vllmInput(): RouteIntentInput {
  return {
    profile: loadProfile("profiles/vllm-openai.yaml"),
    instance: makeInstance("vllm-openai"),
    upstream: { openai: { host: "10.0.0.6", port: 8000 } },
    hostMap: HOST_MAP,
    domain: "apps.example.test",
  };
}
