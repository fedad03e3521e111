import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import YAML from "yaml";

const profilesDir = new URL("../profiles/", import.meta.url);
const curated = readdirSync(profilesDir).filter((name) => name.endsWith(".yaml"));

function load(url: URL): unknown {
  return YAML.parse(readFileSync(url, "utf8"));
}

describe("curated profiles", () => {
  it("are the four first-slice apps", () => {
    assert.deepEqual(curated.sort(), [
      "code-server.yaml",
      "jupyterlab.yaml",
      "openclaw.yaml",
      "vllm-openai.yaml",
    ]);
  });

  for (const name of curated) {
    it(`${name} validates with zero issues and passes the authoring gate`, () => {
      const manifest = load(new URL(name, profilesDir));
      const result = validateProfile(manifest);
      assert.deepEqual(result.issues, []);
      assert.equal(result.ok, true);
      const gate = checkAuthoringGate(manifest);
      assert.equal(
        gate.ready,
        true,
        JSON.stringify(gate.points.filter((point) => point.status === "fail")),
      );
      assert.equal(gate.points.length, 10);
    });

    it(`${name} is named after its slug`, () => {
      const result = validateProfile(load(new URL(name, profilesDir)));
      assert.equal(`${result.profile?.profile.slug}.yaml`, name);
    });
  }

  it("vllm-openai is a docker_compose profile with a renderer and topology", () => {
    const profile = validateProfile(load(new URL("vllm-openai.yaml", profilesDir))).profile;
    assert.equal(profile?.execution.default_engine, "docker_compose");
    assert.equal(profile?.execution.compose?.renderer, "vllm_openai");
    assert.deepEqual(profile?.execution.compose?.topology?.services[0]?.endpoints, ["openai"]);
    assert.equal(profile?.network.endpoints[0]?.managed_ingress.route_family, "api_app");
  });

  it("openclaw starts its gateway through execution.command_args", () => {
    const profile = validateProfile(load(new URL("openclaw.yaml", profilesDir))).profile;
    assert.deepEqual(profile?.execution.command_args?.slice(0, 3), [
      "node",
      "dist/index.js",
      "gateway",
    ]);
  });
});

describe("legacy JupyterLab fixture", () => {
  const legacy = load(new URL("fixtures/profiles/jupyterlab-legacy.yaml", import.meta.url));
  const current = load(new URL("jupyterlab.yaml", profilesDir));

  it("validates, with a migration warning and no error", () => {
    const result = validateProfile(legacy);
    assert.equal(result.ok, true);
    assert.deepEqual(
      result.issues.map((issue) => [issue.pointer, issue.code, issue.severity]),
      [["/network/endpoints/0", "profile.endpoint.legacy_fields", "warning"]],
    );
  });

  it("normalizes to the v1.1 endpoint shape", () => {
    const endpoint = validateProfile(legacy).profile?.network.endpoints[0];
    assert.deepEqual(endpoint, {
      name: "web",
      port: 8888,
      type: "http",
      auth_pattern: "header_injected_jwt",
      managed_ingress: {
        enabled: true,
        route_mode: "platform_path_compat",
        default_open_path: "/lab",
        websocket_required: true,
        client_auth_mode: "browser_oidc",
        route_family: "browser_app",
      },
    });
  });

  it("differs from the v1.1 profile only in its endpoint's route mode and timeout", () => {
    const fromLegacy = validateProfile(legacy).profile;
    const fromCurrent = validateProfile(current).profile;
    assert.ok(fromLegacy && fromCurrent);
    assert.deepEqual({ ...fromLegacy, network: undefined }, { ...fromCurrent, network: undefined });
    const { route_mode: legacyMode, ...legacyRest } =
      fromLegacy.network.endpoints[0]?.managed_ingress ?? {};
    const {
      route_mode: currentMode,
      idle_timeout_seconds: _idle,
      ...currentRest
    } = fromCurrent.network.endpoints[0]?.managed_ingress ?? {};
    assert.equal(legacyMode, "platform_path_compat");
    assert.equal(currentMode, "host");
    assert.deepEqual(legacyRest, currentRest);
  });

  it("fails the authoring gate's endpoint point until migrated", () => {
    const gate = checkAuthoringGate(legacy);
    assert.equal(gate.points[1]?.status, "fail");
    assert.equal(gate.ready, false);
  });
});
