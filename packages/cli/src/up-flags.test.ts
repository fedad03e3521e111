import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadServerConfig, SERVER_OPTIONS } from "@gpuaas/server";
import { Command } from "commander";
import { runCli } from "./run-cli.js";
import { createServerFlagOptions, toServerFlags } from "./up-flags.js";

const scratch = mkdtempSync(join(tmpdir(), "gpuaas-up-flags-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

/** Parses `argv` as `gpuaas up`'s server flags and loads the configuration from them alone. */
function parse(argv: string[]) {
  const command = new Command().exitOverride();
  for (const option of createServerFlagOptions()) command.addOption(option);
  command.parse(argv, { from: "user" });
  return loadServerConfig({ env: {}, flags: toServerFlags(command.opts()) });
}

describe("gpuaas up flags", () => {
  it("offers every control-plane option as a flag, with its environment variable", async () => {
    const help = await run(["up", "--help"]);
    assert.equal(help.code, 0);
    for (const spec of Object.values(SERVER_OPTIONS)) {
      assert.ok(help.stdout.includes(spec.flag), `${spec.flag} is in up --help`);
      assert.ok(help.stdout.includes(`[${spec.env}]`), `${spec.env} is in up --help`);
    }
  });

  it("reaches the managed-ingress and edge options from the command line", () => {
    const loaded = parse([
      "--managed-ingress-host-map",
      '{"http-echo.web":"*.apps.example.test"}',
      "--ingress-domain",
      "apps.example.test",
      "--ingress-public-scheme",
      "http",
      "--ingress-public-port",
      "8081",
      "--ingress-access",
      "project_members",
      "--caddy-admin-url",
      "unix:/run/gpuaas/caddy-admin.sock",
      "--edge-caddy",
      "/usr/bin/caddy",
      "--edge-listen",
      "127.0.0.1:8081",
      "--ingress-edge-retry-ms",
      "250",
      "--enable-oci-node-tasks",
    ]);
    assert.ok(loaded.ok, JSON.stringify(loaded));
    const { config } = loaded;
    assert.deepEqual(config.managed_ingress_host_map, { "http-echo.web": "*.apps.example.test" });
    assert.equal(config.ingress_domain, "apps.example.test");
    assert.equal(config.ingress_public_scheme, "http");
    assert.equal(config.ingress_public_port, 8081);
    assert.equal(config.ingress_access, "project_members");
    assert.equal(config.caddy_admin_url, "unix:/run/gpuaas/caddy-admin.sock");
    assert.equal(config.edge_caddy, "/usr/bin/caddy");
    assert.equal(config.edge_listen, "127.0.0.1:8081");
    assert.equal(config.ingress_edge_retry_ms, 250);
    assert.equal(config.oci_node_tasks_enabled, true);
    assert.ok(Object.isFrozen(config.managed_ingress_host_map));
  });

  it("points browsers at the edge gpuaas up runs unless the operator says otherwise", () => {
    const configOf = (loaded: ReturnType<typeof loadServerConfig>) => {
      assert.ok(loaded.ok, JSON.stringify(loaded));
      return loaded.config;
    };
    const plain = configOf(
      parse(["--edge-caddy", "/usr/bin/caddy", "--edge-listen", "127.0.0.1:9443"]),
    );
    assert.equal(plain.ingress_public_scheme, "http");
    assert.equal(plain.ingress_public_port, 9443);
    assert.equal(configOf(parse(["--edge-caddy", "/usr/bin/caddy"])).ingress_public_port, 8081);
    const tls = configOf(
      loadServerConfig({
        env: {
          GPUAAS_EDGE_TLS_CERT_FILE: "/etc/edge/cert.pem",
          GPUAAS_EDGE_TLS_KEY_FILE: "/etc/edge/key.pem",
        },
        flags: toServerFlags({ edgeCaddy: "/usr/bin/caddy", edgeListen: ":443" }),
      }),
    );
    assert.equal(tls.ingress_public_scheme, "https");
    assert.equal(tls.ingress_public_port, 443);
    // Behind a proxy the operator's values stand.
    const proxied = configOf(
      parse([
        "--edge-caddy",
        "/usr/bin/caddy",
        "--ingress-public-scheme",
        "https",
        "--ingress-public-port",
        "0",
      ]),
    );
    assert.equal(proxied.ingress_public_scheme, "https");
    assert.equal(proxied.ingress_public_port, 0);
    // Without an edge of its own, nothing is derived.
    const none = configOf(parse(["--edge-listen", "127.0.0.1:9443"]));
    assert.equal(none.ingress_public_scheme, "https");
    assert.equal(none.ingress_public_port, 0);
  });

  it("leaves options that were not given to the config file and the environment", () => {
    assert.deepEqual(toServerFlags({ port: "0", profiles: "/p", agent: true }), { port: "0" });
    const fromEnv = loadServerConfig({
      env: { APP_RUNTIME_MANAGED_INGRESS_PUBLIC_HOST_MAP: '{"a.web":"a.apps.example.test"}' },
      flags: toServerFlags({ ingressDomain: "apps.example.test" }),
    });
    assert.ok(fromEnv.ok, JSON.stringify(fromEnv));
    assert.deepEqual(fromEnv.config.managed_ingress_host_map, { "a.web": "a.apps.example.test" });
  });

  it("reports every configuration problem at once and exits 2 before creating anything", async () => {
    const dataDir = join(scratch, "never-created");
    const result = await run([
      "up",
      "--data-dir",
      dataDir,
      "--port",
      "99999",
      "--managed-ingress-host-map",
      "{not json",
      "--ingress-public-scheme",
      "gopher",
      "--caddy-admin-url",
      "http://10.0.0.1:2019",
      "--edge-listen",
      "127.0.0.1:70000",
      "--edge-tls-cert-file",
      "/etc/edge.pem",
    ]);
    assert.equal(result.code, 2, result.stderr);
    for (const expected of [
      /--port \/ GPUAAS_PORT: must be <= 65535/,
      /--managed-ingress-host-map \/ APP_RUNTIME_MANAGED_INGRESS_PUBLIC_HOST_MAP: is not a JSON object/,
      /--ingress-public-scheme \/ GPUAAS_INGRESS_PUBLIC_SCHEME: must be equal to one of the allowed values/,
      /--caddy-admin-url \/ GPUAAS_CADDY_ADMIN_URL: the edge's admin API must be on loopback/,
      /--edge-listen \/ GPUAAS_EDGE_LISTEN: the port must be 1-65535/,
      /--edge-tls-key-file \/ GPUAAS_EDGE_TLS_KEY_FILE: the edge's certificate and key go together/,
    ]) {
      assert.match(result.stderr, expected);
    }
    assert.equal(result.stdout, "");
    assert.equal(existsSync(dataDir), false, "nothing was created");
  });

  it("refuses a TCP admin API for the edge it starts, with the other problems, before anything binds", async () => {
    const dataDir = join(scratch, "edge-tcp-admin");
    const result = await run([
      "up",
      "--data-dir",
      dataDir,
      "--edge-caddy",
      "/usr/bin/caddy",
      "--caddy-admin-url",
      "http://127.0.0.1:2019",
      "--edge-listen",
      "127.0.0.1:70000",
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /--caddy-admin-url \/ GPUAAS_CADDY_ADMIN_URL: with --edge-caddy the edge's admin API must be a unix socket .*reachable by every local user/,
    );
    assert.match(result.stderr, /--edge-listen \/ GPUAAS_EDGE_LISTEN: the port must be 1-65535/);
    assert.equal(existsSync(dataDir), false, "nothing was created");
    // A loopback TCP admin API stays fine for a Caddy the operator runs.
    assert.ok(parse(["--caddy-admin-url", "http://127.0.0.1:2019"]).ok);
    assert.ok(
      parse(["--edge-caddy", "/usr/bin/caddy", "--caddy-admin-url", "unix:/run/a.sock"]).ok,
    );
  });

  it("refuses an edge it cannot start before anything binds", async () => {
    const dataDir = join(scratch, "edge-never-started");
    const result = await run([
      "up",
      "--data-dir",
      dataDir,
      "--edge-caddy",
      join(scratch, "no-such-caddy"),
      "--edge-tls-cert-file",
      join(scratch, "missing.pem"),
      "--edge-tls-key-file",
      join(scratch, "missing.key"),
    ]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /--edge-caddy \/ GPUAAS_EDGE_CADDY: .*no-such-caddy is not an executable file/,
    );
    assert.match(result.stderr, /--edge-tls-cert-file .*missing\.pem cannot be read/);
    assert.match(result.stderr, /--edge-tls-key-file .*missing\.key cannot be read/);
    assert.equal(existsSync(dataDir), false, "nothing was created");
  });

  it("refuses an admin socket path too long for a unix socket", async () => {
    const dataDir = join(scratch, "d".repeat(90));
    const result = await run(["up", "--data-dir", dataDir, "--edge-caddy", process.execPath]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /admin socket .* is longer than 107 bytes/);
  });
});
