import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeEndpoint, normalizeProfile } from "./normalize-profile.js";
import {
  baseline,
  change,
  legacyWebEndpoint,
  type Manifest,
  mutate,
  profileOf,
  without,
} from "./test-fixtures.js";
import type { Endpoint } from "./types.js";
import { validateProfile } from "./validate-profile.js";

const ENDPOINT = "/network/endpoints/0";

/** The v1.1 endpoint the seed's legacy JupyterLab endpoint stands for. */
const NORMALIZED_LEGACY_WEB: Endpoint = {
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
};

/** The endpoint as validateProfile normalizes it: it replaces `web`, or is added beside it. */
function normalizedEndpoint(endpoint: Manifest): Endpoint | undefined {
  if (endpoint.name === "web") return profileOf(mutate(ENDPOINT, endpoint)).network.endpoints[0];
  return profileOf(mutate("/network/endpoints/-", endpoint)).network.endpoints[1];
}

describe("normalization: the seed's legacy JupyterLab endpoint", () => {
  it("maps protocol, exposure_modes and proxy to type and managed_ingress", () => {
    assert.deepEqual(normalizeEndpoint(legacyWebEndpoint()), NORMALIZED_LEGACY_WEB);
  });

  it("gives the same endpoint when normalized inside a validated profile", () => {
    assert.deepEqual(normalizedEndpoint(legacyWebEndpoint()), NORMALIZED_LEGACY_WEB);
  });

  it("drops proxy.auth_bridge and every legacy key", () => {
    const endpoint = normalizeEndpoint(legacyWebEndpoint()) as unknown as Manifest;
    for (const key of ["protocol", "exposure_modes", "proxy"]) assert.equal(key in endpoint, false);
    assert.equal(JSON.stringify(endpoint).includes("auth_bridge"), false);
  });

  it("maps protocol tcp to type tcp", () => {
    const endpoint = normalizedEndpoint({ ...legacyWebEndpoint(), protocol: "tcp" });
    assert.equal(endpoint?.type, "tcp");
  });

  it("maps exposure_modes [private] to disabled managed ingress with host routing", () => {
    const endpoint = normalizedEndpoint({
      name: "notebook",
      port: 8889,
      protocol: "http",
      exposure_modes: ["private"],
    });
    assert.deepEqual(endpoint?.managed_ingress, {
      enabled: false,
      route_mode: "host",
      default_open_path: "/",
      websocket_required: false,
      client_auth_mode: "browser_oidc",
      route_family: "browser_app",
    });
  });

  it("treats platform_proxy among several modes as managed ingress", () => {
    const endpoint = normalizedEndpoint({
      ...legacyWebEndpoint(),
      exposure_modes: ["private", "platform_proxy"],
    });
    assert.equal(endpoint?.managed_ingress.enabled, true);
    assert.equal(endpoint?.managed_ingress.route_mode, "platform_path_compat");
  });
});

describe("normalization: route_family", () => {
  const withIngress = (ingress: Manifest): Endpoint | undefined =>
    normalizedEndpoint({
      name: "web",
      port: 8888,
      type: "http",
      auth_pattern: "oidc_native",
      managed_ingress: { enabled: true, ...ingress },
    });

  it("is api_app for client_auth_mode api_bearer", () => {
    assert.equal(
      withIngress({ client_auth_mode: "api_bearer" })?.managed_ingress.route_family,
      "api_app",
    );
  });

  it("is browser_app for client_auth_mode browser_oidc", () => {
    assert.equal(
      withIngress({ client_auth_mode: "browser_oidc" })?.managed_ingress.route_family,
      "browser_app",
    );
  });

  it("is browser_app, with browser_oidc, when neither is given", () => {
    const ingress = withIngress({})?.managed_ingress;
    assert.equal(ingress?.client_auth_mode, "browser_oidc");
    assert.equal(ingress?.route_family, "browser_app");
  });

  it("is kept when given", () => {
    const ingress = withIngress({ client_auth_mode: "api_bearer", route_family: "api_app" });
    assert.equal(ingress?.managed_ingress.route_family, "api_app");
  });
});

describe("normalization: legacy and v1.1 equivalents are identical", () => {
  const pairs: [string, Manifest, Manifest][] = [
    [
      "proxied notebook",
      legacyWebEndpoint(),
      {
        name: "web",
        port: 8888,
        type: "http",
        auth_pattern: "header_injected_jwt",
        managed_ingress: {
          enabled: true,
          route_mode: "platform_path_compat",
          default_open_path: "/lab",
          websocket_required: true,
        },
      },
    ],
    [
      "private tcp service",
      { name: "db", port: 5432, protocol: "tcp", exposure_modes: ["private"] },
      {
        name: "db",
        port: 5432,
        type: "tcp",
        auth_pattern: "header_injected_jwt",
        managed_ingress: { enabled: false },
      },
    ],
    [
      "http endpoint with no exposure at all",
      { name: "metrics", port: 9100, protocol: "http" },
      { name: "metrics", port: 9100, type: "http", auth_pattern: "header_injected_jwt" },
    ],
    [
      "a mix: v1.1 type with a legacy proxy block",
      {
        name: "web",
        port: 8888,
        type: "http",
        auth_pattern: "header_injected_jwt",
        exposure_modes: ["platform_proxy"],
        proxy: { default_open_path: "/lab", websocket_required: true },
      },
      NORMALIZED_LEGACY_WEB as unknown as Manifest,
    ],
  ];
  for (const [name, legacy, current] of pairs) {
    it(name, () => {
      assert.deepEqual(normalizedEndpoint(legacy), normalizedEndpoint(current));
      assert.deepEqual(normalizeEndpoint(legacy), normalizeEndpoint(current));
    });
  }

  it("the whole legacy profile differs from the v1.1 baseline only in route mode and timeout", () => {
    const fromLegacy = profileOf(mutate(ENDPOINT, legacyWebEndpoint()));
    const fromCurrent = profileOf(baseline());
    assert.deepEqual({ ...fromLegacy, network: null }, { ...fromCurrent, network: null });
    const { route_mode: legacyMode, ...legacyRest } =
      fromLegacy.network.endpoints[0]?.managed_ingress ?? {};
    const {
      route_mode: currentMode,
      idle_timeout_seconds: idle,
      ...currentRest
    } = fromCurrent.network.endpoints[0]?.managed_ingress ?? {};
    assert.deepEqual([legacyMode, currentMode, idle], ["platform_path_compat", "host", 3600]);
    assert.deepEqual(legacyRest, currentRest);
  });
});

describe("normalization: conflicts between legacy and v1.1 fields are reported", () => {
  const conflicts: [string, Manifest, string][] = [
    ["protocol vs type", { protocol: "tcp" }, `${ENDPOINT}/protocol`],
    ["exposure_modes vs enabled", { exposure_modes: ["private"] }, `${ENDPOINT}/exposure_modes`],
    [
      "platform_proxy vs route_mode host",
      { exposure_modes: ["platform_proxy"] },
      `${ENDPOINT}/managed_ingress/route_mode`,
    ],
    [
      "proxy.default_open_path vs managed_ingress",
      { proxy: { default_open_path: "/tree" } },
      `${ENDPOINT}/proxy/default_open_path`,
    ],
    [
      "proxy.websocket_required vs managed_ingress",
      { proxy: { websocket_required: false } },
      `${ENDPOINT}/proxy/websocket_required`,
    ],
  ];
  for (const [name, legacy, pointer] of conflicts) {
    it(name, () => {
      const endpoint = {
        ...(baseline() as { network: { endpoints: Manifest[] } }).network.endpoints[0],
        ...legacy,
      };
      const result = validateProfile(mutate(ENDPOINT, endpoint));
      assert.equal(result.ok, false);
      assert.deepEqual(
        result.issues
          .filter((issue) => issue.code === "profile.endpoint.legacy_conflict")
          .map((issue) => issue.pointer),
        [pointer],
      );
    });
  }
});

describe("normalization: the output is one shape", () => {
  it("a normalized profile validates again with zero issues and normalizes to itself", () => {
    for (const manifest of [baseline(), mutate(ENDPOINT, legacyWebEndpoint())]) {
      const once = profileOf(manifest);
      const again = validateProfile(JSON.parse(JSON.stringify(once)));
      assert.deepEqual(again.issues, []);
      assert.deepEqual(again.profile, once);
    }
  });

  it("fills in absent optional sections", () => {
    const profile = profileOf(
      change(
        [["/outputs"], ["/storage"], [`${ENDPOINT}/managed_ingress/client_auth_mode`]],
        baseline(),
      ),
    );
    assert.deepEqual(profile.outputs, {});
    assert.deepEqual(profile.storage, { mounts: [] });
    assert.deepEqual(profile.security, {});
    assert.equal(profile.network.endpoints[0]?.managed_ingress.client_auth_mode, "browser_oidc");
  });

  it("defaults a mount's required flag to false", () => {
    const profile = profileOf(without("/storage/mounts/0/required"));
    assert.equal(profile.storage.mounts[0]?.required, false);
  });

  it("does not share objects with its input", () => {
    const manifest = baseline();
    const profile = normalizeProfile(manifest);
    (manifest.parameters as Manifest).schema = {};
    assert.equal(Object.keys(profile.parameters.schema.properties).length, 7);
  });

  it("keeps managed-ingress timeouts", () => {
    const endpoint = normalizedEndpoint({
      ...legacyWebEndpoint(),
      managed_ingress: { enabled: true, request_timeout_seconds: 600, idle_timeout_seconds: 60 },
    });
    assert.equal(endpoint?.managed_ingress.request_timeout_seconds, 600);
    assert.equal(endpoint?.managed_ingress.idle_timeout_seconds, 60);
  });
});
