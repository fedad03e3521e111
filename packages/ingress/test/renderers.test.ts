// Golden files of the three renderers for the worked intents (JupyterLab: browser, websocket;
// vLLM: API bearer, long timeout), the field rules of reference §2/§6, and validation of the
// Gateway API objects with kubernetes-models. Regenerate: node scripts/update-golden.mjs packages/ingress
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { EndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { Service } from "kubernetes-models/v1/Service";
import YAML from "yaml";
import {
  type CaddyRoute,
  deriveRouteIntents,
  type KubernetesObject,
  type PomeriumRoute,
  type RouteIntent,
  renderCaddyConfig,
  renderCaddyRoute,
  renderGatewayApi,
  renderPomeriumRoutes,
} from "../src/index.js";
import { jupyterInput, vllmInput } from "../src/test-fixtures.js";

const goldenDir = new URL("golden/", import.meta.url).pathname;

function assertGolden(name: string, actual: string): void {
  const path = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(
    existsSync(path),
    `${name} is missing; run node scripts/update-golden.mjs packages/ingress`,
  );
  assert.equal(actual, readFileSync(path, "utf8"), `${name} differs from the renderer's output`);
}

function intentOf(input: ReturnType<typeof jupyterInput>): RouteIntent {
  const [intent] = deriveRouteIntents(input).intents;
  assert.ok(intent);
  return intent;
}

const examples: [string, RouteIntent][] = [
  ["jupyterlab", intentOf(jupyterInput())],
  ["vllm-openai", intentOf(vllmInput())],
];
const caddyOptions = { authDial: "127.0.0.1:8080", authPath: "/api/v1/ingress/forward-auth" };
const gatewayOptions = {
  namespace: "workloads",
  parentRefs: [{ name: "apps-gateway", namespace: "ingress", sectionName: "https-apps" }],
  auth: "pomerium_policy_filter" as const,
};

function toYaml(documents: readonly unknown[]): string {
  return documents.map((doc) => YAML.stringify(doc, { lineWidth: 0 })).join("---\n");
}

describe("golden renderings", () => {
  for (const [name, intent] of examples) {
    it(`${name}: intent`, () => {
      assertGolden(`${name}.intent.json`, `${JSON.stringify(intent, null, 2)}\n`);
    });
    it(`${name}: Caddy route`, () => {
      assertGolden(
        `${name}.caddy.json`,
        `${JSON.stringify(renderCaddyRoute(intent, caddyOptions), null, 2)}\n`,
      );
    });
    it(`${name}: Pomerium routes`, () => {
      assertGolden(`${name}.pomerium.yaml`, toYaml([renderPomeriumRoutes([intent])]));
    });
    it(`${name}: Gateway API objects`, () => {
      assertGolden(`${name}.gateway-api.yaml`, toYaml(renderGatewayApi([intent], gatewayOptions)));
    });
  }
});

describe("Caddy rendering", () => {
  const [jupyter, vllm] = examples.map(([, intent]) => intent) as [RouteIntent, RouteIntent];

  it("orders every route's subroute: strip → forward auth → gates → proxy", () => {
    for (const intent of [jupyter, vllm]) {
      const route = renderCaddyRoute(intent, caddyOptions);
      assert.equal(route["@id"], `route-${intent.routeId}`);
      const steps = (route.handle[0] as unknown as { routes: CaddyRoute[] }).routes;
      const first = steps[0]?.handle[0] as { handler: string; request: { delete: string[] } };
      assert.equal(first.handler, "headers");
      assert.deepEqual(first.request.delete.slice(0, 2), [...intent.identityHeaders]);
      assert.equal(steps[1]?.handle[0]?.handler, "reverse_proxy");
      assert.ok("rewrite" in (steps[1]?.handle[0] ?? {}), "the second step is forward auth");
      const last = steps.at(-1)?.handle[0] as { handler: string; upstreams: { dial: string }[] };
      assert.equal(last.handler, "reverse_proxy");
      assert.deepEqual(last.upstreams, [
        { dial: `${intent.upstream.host}:${intent.upstream.port}` },
      ]);
    }
  });

  it("refuses every upgrade on a route that does not require websockets", () => {
    const json = JSON.stringify(renderCaddyRoute(vllm, caddyOptions));
    assert.match(json, /"status_code":403,"body":"this endpoint does not accept websocket/);
    assert.doesNotMatch(JSON.stringify(renderCaddyRoute(jupyter, caddyOptions)), /does not accept/);
  });

  it("refuses an admin listener off loopback", () => {
    const base = { ...caddyOptions, listen: [":443"] };
    assert.throws(
      () => renderCaddyConfig([], { ...base, adminListen: "0.0.0.0:2019" }),
      RangeError,
    );
    assert.throws(() => renderCaddyConfig([], { ...base, adminListen: ":2019" }), RangeError);
    assert.throws(
      () => renderCaddyConfig([], { ...base, adminListen: "10.0.0.1:2019" }),
      RangeError,
    );
    assert.throws(
      () => renderCaddyConfig([], { ...base, adminListen: "unix/rel.sock" }),
      RangeError,
    );
    for (const ok of ["127.0.0.1:2019", "localhost:2019", "[::1]:2019", "unix//run/caddy.sock"]) {
      assert.doesNotThrow(() => renderCaddyConfig([], { ...base, adminListen: ok }), ok);
    }
  });

  it("renders a config Caddy 2.6.2 accepts (caddy validate)", (t) => {
    if (spawnSync("caddy", ["version"]).status !== 0) {
      t.skip("caddy is not installed (scripts/setup.sh installs it for the tests)");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "gpuaas-caddy-validate-"));
    try {
      const config = renderCaddyConfig([jupyter, vllm], {
        ...caddyOptions,
        adminListen: "127.0.0.1:2999",
        listen: ["127.0.0.1:0"],
      });
      writeFileSync(join(dir, "caddy.json"), JSON.stringify(config));
      const run = spawnSync("caddy", ["validate", "--config", join(dir, "caddy.json")], {
        env: { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir },
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(run.status, 0, run.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Pomerium rendering", () => {
  const routes = renderPomeriumRoutes(examples.map(([, intent]) => intent)).routes;
  const [jupyter, vllm] = routes as [PomeriumRoute, PomeriumRoute];

  it("allows websockets only where required", () => {
    assert.equal(jupyter.allow_websockets, true);
    assert.equal("allow_websockets" in vllm, false);
  });

  it("passes identity headers and sets a bearer token format on API routes only", () => {
    for (const route of routes) assert.equal(route.pass_identity_headers, true);
    assert.equal(vllm.bearer_token_format, "idp_access_token");
    assert.equal("bearer_token_format" in jupyter, false);
  });

  it("keeps platform credentials and forged identity from the workload", () => {
    assert.deepEqual(vllm.remove_request_headers, [
      "X-Platform-User",
      "X-Platform-Jwt-Assertion",
      "X_Platform_User",
      "X_Platform_Jwt_Assertion",
      "Authorization",
      "Cookie",
    ]);
    assert.ok(jupyter.remove_request_headers.includes("Authorization"));
    assert.ok(!jupyter.remove_request_headers.includes("Cookie"), "Jupyter needs its own cookies");
  });

  it("allows the intent's subjects and maps the timeouts", () => {
    assert.deepEqual(jupyter.policy, { allow: { or: [{ user: { is: "user-alice" } }] } });
    assert.equal(jupyter.idle_timeout, "3600s");
    assert.equal("timeout" in jupyter, false, "no total deadline on a websocket route");
    assert.equal(vllm.timeout, "600s");
    assert.equal(vllm.idle_timeout, "120s");
  });

  it("uses only keys of Pomerium's route schema (reference §2.1)", () => {
    const known = new Set([
      "name",
      "from",
      "to",
      "prefix",
      "prefix_rewrite",
      "allow_websockets",
      "preserve_host_header",
      "pass_identity_headers",
      "remove_request_headers",
      "timeout",
      "idle_timeout",
      "bearer_token_format",
      "idp_access_token_allowed_audiences",
      "tls_upstream_server_name",
      "tls_custom_ca_file",
      "policy",
    ]);
    for (const route of routes) {
      for (const key of Object.keys(route)) assert.ok(known.has(key), key);
      assert.match(route.from, /^https:\/\/[a-z0-9.-]+$/);
      assert.match(route.to, /^https?:\/\//);
    }
  });
});

describe("Gateway API rendering", () => {
  const objects = renderGatewayApi(
    examples.map(([, intent]) => intent),
    gatewayOptions,
  );

  it("validates every Service, EndpointSlice and HTTPRoute with kubernetes-models", () => {
    const kinds: string[] = [];
    for (const object of objects) {
      kinds.push(object.kind);
      const plain = JSON.parse(JSON.stringify(object)) as never;
      if (object.kind === "Service") new Service(plain).validate();
      else if (object.kind === "EndpointSlice") new EndpointSlice(plain).validate();
      else if (object.kind === "HTTPRoute") new HTTPRoute(plain).validate();
      else assert.equal(object.kind, "PolicyFilter");
    }
    assert.deepEqual(kinds, [
      ...["Service", "EndpointSlice", "PolicyFilter", "HTTPRoute"],
      ...["Service", "EndpointSlice", "PolicyFilter", "HTTPRoute"],
    ]);
  });

  it("points a selector-less Service at the upstream through an EndpointSlice", () => {
    const service = objects.find((o) => o.kind === "Service") as KubernetesObject & {
      spec: Record<string, unknown>;
    };
    const slice = objects.find((o) => o.kind === "EndpointSlice") as KubernetesObject & {
      endpoints: { addresses: string[] }[];
    };
    assert.equal("selector" in service.spec, false);
    assert.equal(slice.metadata.labels?.["kubernetes.io/service-name"], service.metadata.name);
    assert.deepEqual(slice.endpoints, [{ addresses: ["10.0.0.5"] }]);
  });

  it("renders path-compat intents with a segment-bounded prefix and a prefix rewrite", () => {
    const legacy = intentOf(jupyterInput("test/fixtures/profiles/jupyterlab-legacy.yaml"));
    const route = renderGatewayApi([legacy], { ...gatewayOptions, auth: "gateway" }).find(
      (o) => o.kind === "HTTPRoute",
    );
    assert.ok(route);
    new HTTPRoute(JSON.parse(JSON.stringify(route)) as never).validate();
    const json = JSON.stringify(route);
    assert.match(json, /"type":"PathPrefix","value":"\/i\/abc123\/web"/);
    assert.match(json, /"ReplacePrefixMatch","replacePrefixMatch":"\/"/);
    assert.doesNotMatch(json, /ExtensionRef/);
  });

  it("rejects an invalid object (the validation is real)", () => {
    const [route] = objects.filter((o) => o.kind === "HTTPRoute");
    const broken = JSON.parse(JSON.stringify(route)) as { spec: { hostnames: string[] } };
    broken.spec.hostnames = ["Not A Host"];
    assert.throws(() => new HTTPRoute(broken as never).validate());
  });
});
