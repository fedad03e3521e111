// The end-to-end suite on Docker: the test starts its own dockerd (no iptables, socket and data in
// a temporary directory) and stops it by pid. Skipped only when dockerd or docker is not installed.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAgentConfig } from "../src/agent-config.js";
import { createDockerRuntime } from "../src/docker-runtime.js";
import { findExecutable } from "../src/run-command.js";
import { runOciLaunch } from "../src/run-oci-launch.js";
import { startDockerd } from "./fixtures/dockerd.js";
import { renderCuratedSpec } from "./fixtures/specs.js";
import { defineRuntimeSuite } from "./runtime-suite.js";

const missing: string[] = [];
if ((await findExecutable("dockerd")) === undefined) missing.push("dockerd");
if ((await findExecutable("docker")) === undefined) missing.push("docker");

if (missing.length > 0) {
  describe("agent on docker", () => {
    it("needs docker", (t) => {
      t.skip(
        `${missing.join(" and ")} not installed (scripts/setup.sh installs docker.io with GPUAAS_SETUP_TEST_DEPS=1)`,
      );
    });
  });
} else {
  describe("agent on docker without a daemon", () => {
    it("refuses to launch with preflight.runtime_not_answering and the daemon's complaint", async () => {
      const dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-nodaemon-"));
      try {
        const { config } = loadAgentConfig(
          {
            workloadsRoot: join(dir, "w"),
            projectStorageRoot: join(dir, "p"),
            secretsDir: join(dir, "s"),
          },
          process.arch,
        );
        assert.ok(config);
        const runtime = createDockerRuntime({ host: `unix://${join(dir, "absent.sock")}` });
        const result = await runOciLaunch(renderCuratedSpec("jupyterlab"), { runtime, config });
        assert.equal(result.error?.code, "preflight.runtime_not_answering");
        assert.match(result.error?.message ?? "", /Cannot connect to the Docker daemon/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  defineRuntimeSuite("docker", async () => {
    const dockerd = await startDockerd();
    return {
      runtime: createDockerRuntime({ host: dockerd.host }),
      // Images live in the private data root, which goes with the daemon.
      teardown: () => dockerd.stop(),
    };
  });
}
