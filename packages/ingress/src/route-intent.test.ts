import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { Endpoint, WorkloadProfile } from "@gpuaas/contract";
import {
  deriveRouteIntents,
  type RouteIntent,
  toOpenUrl,
  UNEXPOSED_CODES,
} from "./route-intent.js";
import { HOST_MAP, jupyterInput, makeInstance, ROOT, vllmInput } from "./test-fixtures.js";

function only(intents: readonly RouteIntent[]): RouteIntent {
  assert.equal(intents.length, 1);
  const [intent] = intents;
  assert.ok(intent);
  return intent;
}

function withEndpoint(
  profile: WorkloadProfile,
  change: (e: Endpoint) => Endpoint,
): WorkloadProfile {
  return {
    ...profile,
    network: { endpoints: profile.network.endpoints.map(change) },
  };
}

describe("deriveRouteIntents", () => {
  it("derives the JupyterLab intent of reference §1 (a)", () => {
    const { intents, unexposed } = deriveRouteIntents(jupyterInput());
    assert.deepEqual(unexposed, []);
    assert.deepEqual(only(intents), {
      routeId: "inst-abc123.web",
      instanceId: "inst-abc123",
      projectId: "proj-1",
      appSlug: "jupyterlab",
      endpointName: "web",
      publicHost: "jupyter-abc123.apps.example.test",
      routeMode: "host",
      upstream: { scheme: "http", host: "10.0.0.5", port: 8888 },
      websocket: true,
      family: "browser_app",
      clientAuth: "browser_oidc",
      authPattern: "header_injected_jwt",
      subjects: { users: ["user-alice"], groups: [] },
      identityHeaders: ["X-Platform-User", "X-Platform-Jwt-Assertion"],
      stripToUpstream: ["Authorization"],
      stripCookies: ["__Host-gpuaas_app_session", "gpuaas_session"],
      timeouts: { idleSeconds: 3600 },
      defaultOpenPath: "/lab",
    });
  });

  it("derives the vLLM intent of reference §1 (b): API bearer, no websocket, long timeout", () => {
    const intent = only(deriveRouteIntents(vllmInput()).intents);
    assert.equal(intent.publicHost, "openai-abc123.apps.example.test");
    assert.equal(intent.family, "api_app");
    assert.equal(intent.clientAuth, "api_bearer");
    assert.equal(intent.websocket, false);
    assert.deepEqual(intent.stripToUpstream, ["Authorization", "Cookie"]);
    assert.deepEqual(intent.timeouts, { requestSeconds: 600, idleSeconds: 120 });
    assert.equal(toOpenUrl(intent), "https://openai-abc123.apps.example.test/v1/models");
  });

  it("gives a legacy manifest the intent of its v1.1 equivalent", () => {
    const legacy = only(
      deriveRouteIntents(jupyterInput("test/fixtures/profiles/jupyterlab-legacy.yaml")).intents,
    );
    // The v1.1 equivalent of `exposure_modes: [platform_proxy]` is route_mode platform_path_compat
    // (seed, "Endpoint Exposure Contract"); everything else is profiles/jupyterlab.yaml.
    const current = jupyterInput();
    const equivalent = withEndpoint(current.profile, (endpoint) => ({
      ...endpoint,
      managed_ingress: { ...endpoint.managed_ingress, route_mode: "platform_path_compat" },
    }));
    const v11 = only(deriveRouteIntents({ ...current, profile: equivalent }).intents);
    assert.deepEqual(legacy, v11);
    // Against the curated host-mode profile only the route mode and its prefix differ.
    const { routeMode, pathPrefix, ...rest } = legacy;
    const hostMode = only(deriveRouteIntents(current).intents);
    assert.deepEqual({ ...rest, routeMode: "host" }, hostMode);
    assert.equal(routeMode, "platform_path_compat");
    assert.equal(pathPrefix, "/i/abc123/web");
    assert.equal(toOpenUrl(legacy), "https://jupyter-abc123.apps.example.test/i/abc123/web/lab");
  });

  it("gives two instances of one app two hosts (never one origin)", () => {
    const a = only(deriveRouteIntents(jupyterInput()).intents);
    const b = only(
      deriveRouteIntents({ ...jupyterInput(), instance: makeInstance("jupyterlab", "def456") })
        .intents,
    );
    assert.notEqual(a.publicHost, b.publicHost);
    assert.equal(b.publicHost, "jupyter-def456.apps.example.test");
  });

  it("says why an endpoint without a host mapping is not exposed", () => {
    const { intents, unexposed } = deriveRouteIntents({ ...jupyterInput(), hostMap: {} });
    assert.deepEqual(intents, []);
    assert.deepEqual(unexposed, [
      {
        endpoint: "web",
        code: "ingress.no_host_mapping",
        message: "the operator's public host map has no entry for jupyterlab.web",
      },
    ]);
  });

  it("gives a reason for every other endpoint it does not expose", () => {
    const base = jupyterInput();
    const cases: [Partial<typeof base>, string][] = [
      [{ exposedEndpoints: [] }, "ingress.private_by_launch"],
      [{ upstream: {} }, "ingress.no_upstream"],
      [{ upstream: { web: { host: "10.0.0.5", port: 70000 } } }, "ingress.invalid_upstream"],
      [{ upstream: { web: { host: "bad host", port: 80 } } }, "ingress.invalid_upstream"],
      [{ hostMap: { "jupyterlab.web": "jupyter.other.test" } }, "ingress.host_outside_domain"],
      [
        { hostMap: { "jupyterlab.web": `${"x".repeat(60)}.apps.example.test` } },
        "ingress.invalid_public_host",
      ],
      [{ instance: { ...base.instance, short_id: "Not_A_Label" } }, "ingress.invalid_instance"],
      [{ instance: { ...base.instance, id: "a/b" } }, "ingress.invalid_instance"],
    ];
    for (const [change, code] of cases) {
      const { intents, unexposed } = deriveRouteIntents({ ...base, ...change });
      assert.deepEqual(intents, [], code);
      assert.equal(unexposed[0]?.code, code, JSON.stringify(change));
    }
    const disabled = withEndpoint(base.profile, (e) => ({
      ...e,
      managed_ingress: { ...e.managed_ingress, enabled: false },
    }));
    assert.equal(
      deriveRouteIntents({ ...base, profile: disabled }).unexposed[0]?.code,
      "ingress.not_enabled",
    );
    const tcp = withEndpoint(base.profile, (e) => ({ ...e, type: "tcp" }));
    assert.equal(
      deriveRouteIntents({ ...base, profile: tcp }).unexposed[0]?.code,
      "ingress.unsupported_endpoint_type",
    );
    const mtls = withEndpoint(base.profile, (e) => ({ ...e, auth_pattern: "mtls_user_cert" }));
    assert.equal(
      deriveRouteIntents({ ...base, profile: mtls }).unexposed[0]?.code,
      "ingress.unsupported_auth_pattern",
    );
  });

  it("lets project members in by policy, never on a per_user_instance endpoint", () => {
    const base = jupyterInput();
    const shared = only(deriveRouteIntents({ ...base, access: "project_members" }).intents);
    assert.deepEqual(shared.subjects, { users: ["user-alice"], groups: ["project:proj-1"] });
    const personal = withEndpoint(base.profile, (e) => ({
      ...e,
      auth_pattern: "per_user_instance",
    }));
    const owner = only(
      deriveRouteIntents({ ...base, profile: personal, access: "project_members" }).intents,
    );
    assert.deepEqual(owner.subjects, { users: ["user-alice"], groups: [] });
  });

  it("uses the endpoint name under a wildcard and a bare label under the apps domain", () => {
    const wildcard = only(
      deriveRouteIntents({
        ...jupyterInput(),
        hostMap: { "jupyterlab.web": "*.apps.example.test" },
      }).intents,
    );
    assert.equal(wildcard.publicHost, "web-abc123.apps.example.test");
    const bare = only(
      deriveRouteIntents({ ...jupyterInput(), hostMap: { "jupyterlab.web": "lab" } }).intents,
    );
    assert.equal(bare.publicHost, "lab-abc123.apps.example.test");
    assert.ok(HOST_MAP["code-server.editor"].startsWith("*."));
  });

  it("carries an https upstream's server name and an IPv6 upstream", () => {
    const intent = only(
      deriveRouteIntents({
        ...jupyterInput(),
        upstream: { web: { host: "fd00::5", port: 8888, scheme: "https", tls_server_name: "n1" } },
      }).intents,
    );
    assert.deepEqual(intent.upstream, {
      scheme: "https",
      host: "fd00::5",
      port: 8888,
      tlsServerName: "n1",
    });
  });

  it("documents every reason code in the package README", () => {
    const readme = readFileSync(new URL("packages/ingress/README.md", ROOT), "utf8");
    for (const code of UNEXPOSED_CODES)
      assert.match(readme, new RegExp(`\\| \`${code}\` +\\|`), code);
  });
});
