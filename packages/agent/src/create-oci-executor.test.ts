import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderOciRemove } from "@gpuaas/engines";
import { createFakeRuntime } from "../test/fixtures/fake-runtime.js";
import { renderCuratedSpec, withDynamicPorts } from "../test/fixtures/specs.js";
import { loadAgentConfig } from "./agent-config.js";
import { createOciExecutor } from "./create-oci-executor.js";

describe("createOciExecutor", () => {
  it("runs redelivered tasks for one container one after another, and redacts remembered tokens", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-exec-"));
    try {
      const { config } = loadAgentConfig(
        {
          workloadsRoot: join(dir, "w"),
          projectStorageRoot: join(dir, "p"),
          secretsDir: join(dir, "s"),
          minFreeDiskBytes: 0,
        },
        "x64",
      );
      assert.ok(config);
      const runtime = createFakeRuntime();
      const token = "tok-remembered-0123456789";
      runtime.readLogs = async () => `printed ${token} by the workload\n`;
      const executor = createOciExecutor({
        runtime,
        config,
        fetch: async () => new Response("", { status: 200 }),
      });
      const spec = withDynamicPorts(renderCuratedSpec("jupyterlab"));
      const task = { credential: { registry: "127.0.0.1:5055", token } };
      const [first, second] = await Promise.all([
        executor.launch(spec, task),
        executor.launch(spec, task),
      ]);
      assert.equal(first.action, "created");
      assert.equal(second.action, "reused");
      assert.equal(runtime.calls.filter((call) => call.method === "createContainer").length, 1);
      const logs = await executor.readLogs(spec.container.name, 10);
      assert.equal(logs.text, "printed [REDACTED] by the workload\n");
      const removed = await executor.remove(renderOciRemove(spec.identity));
      assert.equal(removed.ok, true);
      assert.equal(removed.container_removed, true);
      const state = await executor.rebuildState();
      assert.deepEqual(state.containers, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
