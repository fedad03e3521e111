import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { OciLaunchSpec } from "@gpuaas/engines";
import { createFakeRuntime } from "../test/fixtures/fake-runtime.js";
import { renderCuratedSpec, withDynamicPorts } from "../test/fixtures/specs.js";
import { type AgentConfig, loadAgentConfig } from "./agent-config.js";
import type { TaskEvent } from "./agent-deps.js";
import { RuntimeCommandError } from "./container-runtime.js";
import type { HostGpuInventory } from "./gpu-inventory.js";
import { runOciLaunch } from "./run-oci-launch.js";

const TOKEN = "tok-unit-0123456789abcdef";
const credential = { registry: "127.0.0.1:5055", token: TOKEN };
const gpuLess: HostGpuInventory = {
  nvidia: { tool: "absent", gpus: [] },
  amd: { kfd: false, indices: [] },
  cdi: { specs: [], problems: [] },
};
const ok200: typeof fetch = async () => new Response("ok", { status: 200 });

let dir: string;
let config: AgentConfig;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-unit-"));
  const loaded = loadAgentConfig(
    {
      workloadsRoot: join(dir, "workloads"),
      projectStorageRoot: join(dir, "projects"),
      secretsDir: join(dir, "secrets"),
      minFreeDiskBytes: 0,
      pipIndexUrl: "https://pypi.internal/simple",
      stopTimeoutSeconds: 0,
    },
    "x64",
  );
  if (loaded.config === undefined) throw new Error(JSON.stringify(loaded.issues));
  config = loaded.config;
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const jupyter = (generation = 1, instance = "inst-1"): OciLaunchSpec =>
  withDynamicPorts(renderCuratedSpec("jupyterlab", { generation, instance }));

describe("runOciLaunch", () => {
  it("pulls with a 0600 auth file deleted right after, then creates, starts and probes", async () => {
    const runtime = createFakeRuntime();
    let authSeen = "";
    runtime.onPull = async (_image, authDir) => {
      assert.ok(authDir);
      const file = join(authDir, "config.json");
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      authSeen = await readFile(file, "utf8");
    };
    const events: TaskEvent[] = [];
    const result = await runOciLaunch(jupyter(), {
      runtime,
      config,
      credential,
      probeGpus: async () => gpuLess,
      fetch: ok200,
      onEvent: (event) => events.push(event),
    });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.equal(result.action, "created");
    assert.match(authSeen, new RegExp(Buffer.from(`gpuaas:${TOKEN}`).toString("base64")));
    assert.deepEqual(await readdir(config.secretsDir), []);
    assert.deepEqual(
      runtime.calls
        .map((call) => call.method)
        .filter((m) => m !== "inspectContainer" && m !== "inspectImage"),
      ["probe", "pullImage", "createContainer", "startContainer"],
    );
    const argv = runtime.calls.find((call) => call.method === "createContainer")
      ?.args[0] as string[];
    assert.ok(!JSON.stringify(argv).includes(TOKEN));
    assert.ok(argv.includes("--cap-drop") && argv.includes("no-new-privileges"));
    assert.ok(
      argv.includes(
        `type=bind,source=${join(config.workloadsRoot, "inst-1", "workspace")},target=/workspace`,
      ),
    );
    assert.equal(result.container_name, "gpuaas-inst-1");
    assert.equal(result.ports[0]?.endpoint, "web");
    assert.equal(result.ports[0]?.url, `http://127.0.0.1:${result.ports[0]?.host_port}`);
    assert.deepEqual(
      events.map((event) => event.phase),
      ["preflight", "pull", "create", "start", "readiness", "done"],
    );
    assert.ok(events.every((event) => event.correlation_id === "corr-1"));
    assert.ok(!JSON.stringify([result, events]).includes(TOKEN));
  });

  it("deletes the auth file when the pull is refused and says so with a stable code", async () => {
    const runtime = createFakeRuntime();
    runtime.onPull = async () => {
      throw new RuntimeCommandError("pull", "unauthorized", 125, `unauthorized: bad ${TOKEN}`);
    };
    const result = await runOciLaunch(jupyter(), { runtime, config, credential, fetch: ok200 });
    assert.equal(result.error?.code, "pull.unauthorized");
    assert.match(result.error?.message ?? "", /token:[0-9a-f]{6}/);
    assert.ok(!JSON.stringify(result).includes(TOKEN));
    assert.deepEqual(await readdir(config.secretsDir), []);
    assert.ok(!runtime.calls.some((call) => call.method === "createContainer"));
  });

  it("stops at a missing runtime without touching anything else", async () => {
    const runtime = createFakeRuntime("docker");
    runtime.probeResult = { name: "docker", binary: "docker", present: false, answering: false };
    const result = await runOciLaunch(jupyter(), { runtime, config, credential });
    assert.equal(result.error?.code, "preflight.runtime_missing");
    assert.deepEqual(
      runtime.calls.map((call) => call.method),
      ["probe"],
    );
  });

  it("refuses an invalid spec before asking the runtime anything, listing every issue", async () => {
    const runtime = createFakeRuntime();
    const spec = jupyter();
    const bad = {
      ...spec,
      container: {
        ...spec.container,
        image: "127.0.0.1:5055/apps/jupyterlab:latest",
        digest: "latest",
      },
    } as OciLaunchSpec;
    const result = await runOciLaunch(bad, { runtime, config });
    assert.equal(result.error?.code, "task.spec_invalid");
    assert.deepEqual(
      result.error?.issues?.map((issue) => issue.pointer),
      ["/container/digest", "/container/image"],
    );
    assert.deepEqual(runtime.calls, []);
  });

  it("reports every preflight problem at once", async () => {
    const runtime = createFakeRuntime();
    const spec = withDynamicPorts(renderCuratedSpec("vllm-openai", { gpuIndices: [0, 3] }));
    const { pipIndexUrl: _noIndex, ...rest } = config;
    const strict: AgentConfig = { ...rest, minFreeDiskBytes: Number.MAX_SAFE_INTEGER };
    const result = await runOciLaunch(
      { ...spec, python_packages: ["numpy==2.0"] },
      {
        runtime,
        config: strict,
        credential: { registry: "other.example:5000", token: TOKEN },
        gpuMask: [0, 1],
        probeGpus: async () => gpuLess,
      },
    );
    assert.equal(result.ok, false);
    assert.deepEqual(
      [...new Set(result.error?.issues?.map((issue) => issue.code))],
      [
        "preflight.credential_mismatch",
        "preflight.gpu_outside_mask",
        "preflight.gpu_unavailable",
        "preflight.disk_low",
        "packages.index_unconfigured",
      ],
    );
    assert.equal(result.error?.code, "preflight.credential_mismatch");
    assert.ok(
      !runtime.calls.some((call) => ["pullImage", "createContainer"].includes(call.method)),
    );
  });

  it("is idempotent: the same generation is reported (and started if stopped), a new one replaces it", async () => {
    const runtime = createFakeRuntime();
    const deps = { runtime, config, credential, fetch: ok200 };
    const first = await runOciLaunch(jupyter(1, "inst-2"), deps);
    assert.equal(first.action, "created");
    await runtime.stopContainer("gpuaas-inst-2", 0);
    runtime.calls.length = 0;
    const again = await runOciLaunch(jupyter(1, "inst-2"), deps);
    assert.equal(again.ok, true);
    assert.equal(again.action, "reused");
    assert.equal(again.container_id, first.container_id);
    assert.deepEqual(
      runtime.calls.map((call) => call.method).filter((m) => !m.startsWith("inspect")),
      ["probe", "startContainer"],
    );
    const next = await runOciLaunch(jupyter(2, "inst-2"), deps);
    assert.equal(next.ok, true);
    assert.equal(next.action, "created");
    assert.deepEqual(next.replaced, { container_id: first.container_id, generation: "1" });
    assert.equal(next.pull?.skipped, true);
    const stale = await runOciLaunch(jupyter(1, "inst-2"), deps);
    assert.equal(stale.error?.code, "preflight.generation_superseded");
    assert.equal(runtime.containers.get("gpuaas-inst-2")?.labels["dev.gpuaas.generation"], "2");
  });

  it("refuses to take over a same-named container it did not create", async () => {
    const runtime = createFakeRuntime();
    await runtime.createContainer({
      name: "gpuaas-inst-3",
      image: "x",
      labels: {},
      env: {},
      ports: [],
      cpus: 1,
      memory_mib: 64,
      pids_limit: 10,
      gpus: { vendor: "none", indices: [] },
      mounts: [],
      privileged: false,
    });
    const result = await runOciLaunch(jupyter(1, "inst-3"), { runtime, config });
    assert.equal(result.error?.code, "preflight.name_conflict");
    assert.ok(runtime.containers.has("gpuaas-inst-3"));
    assert.ok(!runtime.calls.some((call) => call.method === "removeContainer"));
  });

  it("removes a container that failed to start so a retry starts clean", async () => {
    const runtime = createFakeRuntime();
    runtime.startContainer = async () => {
      throw new RuntimeCommandError(
        "start",
        "failed",
        126,
        "unresolvable CDI devices nvidia.com/gpu=0",
      );
    };
    const result = await runOciLaunch(jupyter(1, "inst-4"), { runtime, config, fetch: ok200 });
    assert.equal(result.error?.code, "start.failed");
    assert.match(result.error?.message ?? "", /GPU plumbing/);
    assert.equal(result.action, "none");
    assert.equal(runtime.containers.has("gpuaas-inst-4"), false);
  });

  it("reports an exit during readiness with the exit code, OOM flag and a redacted excerpt", async () => {
    const runtime = createFakeRuntime();
    runtime.readLogs = async () => `booting\nAuthorization: Bearer ${TOKEN}\nKilled\n`;
    const spec = jupyter(1, "inst-5");
    const dying: typeof fetch = async () => {
      const details = runtime.containers.get("gpuaas-inst-5");
      if (details !== undefined) {
        runtime.containers.set("gpuaas-inst-5", {
          ...details,
          state: "exited",
          running: false,
          exit_code: 137,
          oom_killed: true,
        });
      }
      throw new TypeError("fetch failed");
    };
    const result = await runOciLaunch(spec, { runtime, config, credential, fetch: dying });
    assert.equal(result.error?.code, "readiness.container_exited");
    assert.match(result.error?.message ?? "", /raise the memory limit/);
    assert.deepEqual(
      { exit: result.failure?.exit_code, oom: result.failure?.oom_killed },
      { exit: 137, oom: true },
    );
    assert.match(result.failure?.log_excerpt ?? "", /Bearer \[REDACTED\]/);
    assert.equal(result.error?.details?.exit_code, 137);
    assert.ok(!JSON.stringify(result).includes(TOKEN));
  });

  it("installs python packages through the configured index before readiness", async () => {
    const runtime = createFakeRuntime();
    const seen: string[][] = [];
    runtime.onExec = (argv) => {
      seen.push([...argv]);
      return {
        exit_code: 0,
        output: "Successfully installed numpy-2.0",
        timed_out: false,
        truncated: false,
      };
    };
    const spec = { ...jupyter(1, "inst-6"), python_packages: ["numpy==2.0", "pandas>=2.2"] };
    const result = await runOciLaunch(spec, { runtime, config, fetch: ok200 });
    assert.equal(result.ok, true, JSON.stringify(result.error));
    assert.deepEqual(seen, [
      [
        "python",
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--index-url",
        "https://pypi.internal/simple",
        "numpy==2.0",
        "pandas>=2.2",
      ],
    ]);
    assert.deepEqual(result.package_install, {
      packages: ["numpy==2.0", "pandas>=2.2"],
      ok: true,
      exit_code: 0,
      excerpt: "Successfully installed numpy-2.0",
    });
  });
});
