// The end-to-end suite on podman (runc, the agent's own containers.conf, plain HTTP to the
// loopback registry only). Skipped only when podman is not installed.
import { join } from "node:path";
import { describe, it } from "node:test";
import { createPodmanRuntime, DEFAULT_CONTAINERS_CONF } from "../src/podman-runtime.js";
import { findExecutable, runCommand } from "../src/run-command.js";
import { defineRuntimeSuite } from "./runtime-suite.js";

const podman = await findExecutable("podman");

if (podman === undefined) {
  describe("agent on podman", () => {
    it("needs podman", (t) => {
      t.skip(
        "podman is not installed (scripts/setup.sh installs it with GPUAAS_SETUP_TEST_DEPS=1)",
      );
    });
  });
} else {
  defineRuntimeSuite("podman", async (registry, workDir) => {
    const containersConf = join(workDir, "containers.conf");
    const runtime = createPodmanRuntime({
      containersConf: { path: containersConf, ...DEFAULT_CONTAINERS_CONF },
      plainHttpRegistries: [registry.host],
    });
    return {
      runtime,
      async teardown(images) {
        for (const image of images) {
          await runCommand({
            file: "podman",
            args: ["rmi", "--force", image],
            env: { CONTAINERS_CONF: containersConf },
            timeoutMs: 30_000,
          });
        }
      },
    };
  });
}
