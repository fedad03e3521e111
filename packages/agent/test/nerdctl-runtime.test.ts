// The end-to-end suite on nerdctl (containerd), in a namespace of its own. nerdctl is not among
// the packages Debian ships, so on the project's machines this suite is skipped; it runs wherever
// nerdctl and a containerd it can reach are installed.
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { createNerdctlRuntime } from "../src/nerdctl-runtime.js";
import { findExecutable, runCommand } from "../src/run-command.js";
import { defineRuntimeSuite } from "./runtime-suite.js";

if ((await findExecutable("nerdctl")) === undefined) {
  describe("agent on nerdctl", () => {
    it("needs nerdctl", (t) => {
      t.skip(
        "nerdctl is not installed (it is not packaged by Debian; install it with containerd to run this suite)",
      );
    });
  });
} else {
  const namespace = `gpuaas-test-${randomBytes(3).toString("hex")}`;
  defineRuntimeSuite("nerdctl", async (registry) => ({
    runtime: createNerdctlRuntime({ namespace, plainHttpRegistries: [registry.host] }),
    async teardown(images) {
      for (const image of images) {
        await runCommand({
          file: "nerdctl",
          args: ["rmi", "--force", image],
          env: { CONTAINERD_NAMESPACE: namespace },
          timeoutMs: 30_000,
        });
      }
    },
  }));
}
