import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { OciLaunchSpec } from "@gpuaas/engines";
import { renderCuratedSpec } from "../test/fixtures/specs.js";
import { loadAgentConfig } from "./agent-config.js";
import { checkLaunchSpec } from "./check-launch-spec.js";

const { config } = loadAgentConfig(
  {
    workloadsRoot: "/var/lib/gpuaas/workloads",
    projectStorageRoot: "/srv/projects",
    secretsDir: "/run/gpuaas",
  },
  "x64",
);
if (config === undefined) throw new Error("config");

describe("checkLaunchSpec", () => {
  it("accepts what the engines renderer makes from every curated profile", () => {
    for (const slug of ["jupyterlab", "code-server", "openclaw"]) {
      assert.deepEqual(checkLaunchSpec(renderCuratedSpec(slug), config), [], slug);
    }
    const vllm = renderCuratedSpec("vllm-openai", { gpuIndices: [0, 1] });
    assert.deepEqual(checkLaunchSpec(vllm, config), []);
  });

  it("reports every problem at once, each with a pointer", () => {
    const good = renderCuratedSpec("jupyterlab");
    const bad = {
      ...good,
      identity: { ...good.identity, instance_id: "../etc" },
      container: {
        ...good.container,
        image: "127.0.0.1:5055/apps/jupyterlab:latest",
        env: { "BAD-KEY": "x" },
        ports: [{ ...good.container.ports[0], host_ip: "0.0.0.0" }],
        mounts: [{ name: "a/b", target: "/work,space", mode: "scratch", read_only: false }],
        resources: { cpus: 0, memory_mib: 1, pids_limit: 0 },
      },
      python_packages: ["numpy==2.0", "--index-url=http://evil"],
    } as unknown as OciLaunchSpec;
    const pointers = checkLaunchSpec(bad, config).map((issue) => issue.pointer);
    for (const pointer of [
      "/identity/instance_id",
      "/container/name",
      "/container/image",
      "/container/env/BAD-KEY",
      "/container/ports/0/host_ip",
      "/container/resources/cpus",
      "/container/resources/memory_mib",
      "/container/resources/pids_limit",
      "/container/mounts/0/name",
      "/container/mounts/0/target",
      "/python_packages/1",
    ]) {
      assert.ok(pointers.includes(pointer), `${pointer} in ${pointers.join(" ")}`);
    }
  });

  it("refuses host mounts outside the configured roots, allows them inside", () => {
    const good = renderCuratedSpec("jupyterlab");
    const spec: OciLaunchSpec = {
      ...good,
      container: {
        ...good.container,
        security: {
          ...good.container.security,
          host_mounts: [{ host_path: "/srv/models/llama", path: "/models", read_only: true }],
        },
      },
    };
    const refused = checkLaunchSpec(spec, config);
    assert.deepEqual(
      refused.map((issue) => [issue.code, issue.pointer]),
      [["preflight.host_mount_refused", "/container/security/host_mounts/0/host_path"]],
    );
    const allowed = loadAgentConfig({ ...config, hostMountRoots: ["/srv/models"] }, "x64").config;
    assert.ok(allowed);
    assert.deepEqual(checkLaunchSpec(spec, allowed), []);
    const sibling = loadAgentConfig({ ...config, hostMountRoots: ["/srv/mod"] }, "x64").config;
    assert.ok(sibling);
    assert.equal(checkLaunchSpec(spec, sibling)[0]?.code, "preflight.host_mount_refused");
  });
});
