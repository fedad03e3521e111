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
});
