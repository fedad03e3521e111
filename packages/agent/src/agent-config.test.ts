import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AGENT_CONFIG_DEFAULTS, loadAgentConfig } from "./agent-config.js";

const base = {
  workloadsRoot: "/var/lib/gpuaas/workloads",
  projectStorageRoot: "/srv/projects",
  secretsDir: "/run/gpuaas",
};

describe("loadAgentConfig", () => {
  it("fills defaults, normalises the host architecture and freezes the result", () => {
    const { config, issues } = loadAgentConfig(base, "x64");
    assert.deepEqual(issues, []);
    assert.ok(config);
    assert.equal(config.hostArchitecture, "amd64");
    assert.equal(config.minFreeDiskBytes, AGENT_CONFIG_DEFAULTS.minFreeDiskBytes);
    assert.deepEqual(config.cdiDirs, ["/etc/cdi", "/var/run/cdi"]);
    assert.ok(Object.isFrozen(config));
    assert.equal(loadAgentConfig(base, "arm64").config?.hostArchitecture, "arm64");
  });

  it("reports every problem at once", () => {
    const { config, issues } = loadAgentConfig(
      {
        workloadsRoot: "relative/dir",
        projectStorageRoot: "/srv/../etc",
        secretsDir: "/run/gpuaas",
        hostMountRoots: ["/"],
        pipIndexUrl: "ftp://index",
        pullTimeoutSeconds: 0,
        nodeId: "bad id",
      },
      "x64",
    );
    assert.equal(config, undefined);
    assert.deepEqual(issues.map((issue) => issue.pointer).sort(), [
      "/hostMountRoots/0",
      "/nodeId",
      "/pipIndexUrl",
      "/projectStorageRoot",
      "/pullTimeoutSeconds",
      "/workloadsRoot",
    ]);
  });

  it("drives podman through its API by default; cli or an existing socket on request", () => {
    assert.equal(loadAgentConfig(base, "x64").config?.podmanDriver, "api");
    assert.equal(
      loadAgentConfig({ ...base, podmanDriver: "cli" }, "x64").config?.podmanDriver,
      "cli",
    );
    const socket = loadAgentConfig({ ...base, podmanSocket: "/run/podman/podman.sock" }, "x64");
    assert.equal(socket.config?.podmanSocket, "/run/podman/podman.sock");
    const bad = loadAgentConfig(
      {
        ...base,
        podmanDriver: "rest" as "api",
        podmanSocket: `/run/${"x".repeat(120)}.sock`,
      },
      "x64",
    );
    assert.deepEqual(
      bad.issues.map((issue) => issue.pointer),
      ["/podmanDriver", "/podmanSocket"],
    );
    const cliWithSocket = loadAgentConfig(
      { ...base, podmanDriver: "cli", podmanSocket: "relative.sock" },
      "x64",
    );
    assert.deepEqual(
      cliWithSocket.issues.map((issue) => issue.message),
      [
        "podmanSocket must be an absolute, normalised path",
        "podmanSocket is used only with podmanDriver api",
      ],
    );
  });
});
