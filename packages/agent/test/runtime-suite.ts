// One end-to-end suite for every runtime driver (STYLE.md: one suite, every backend): a real
// registry with token auth on loopback, a busybox HTTP image pushed to it, and the agent's task
// handlers driving the runtime for real. Each runtime's test file supplies the driver.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { access, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  LABEL_PREFIX,
  type OciControlSpec,
  type OciLaunchSpec,
  type OciRemoveSpec,
  toContainerName,
} from "@gpuaas/engines";
import { type AgentConfig, loadAgentConfig } from "../src/agent-config.js";
import type { TaskEvent } from "../src/agent-deps.js";
import type { ContainerCreateRequest, ContainerRuntime } from "../src/container-runtime.js";
import { createOciExecutor, type OciExecutor } from "../src/create-oci-executor.js";
import { detectRuntimes } from "../src/detect-runtimes.js";
import { probeHostGpus } from "../src/gpu-inventory.js";
import { rebuildState } from "../src/rebuild-state.js";
import { fingerprintToken } from "../src/registry-auth.js";
import { runCommand } from "../src/run-command.js";
import { buildBusyboxImage } from "./fixtures/busybox-image.js";
import { pushImage, startTokenRegistry, type TokenRegistry } from "./fixtures/token-registry.js";

/** What a runtime's test file provides: a driver, and how to clean up after it. */
export interface RuntimeUnderTest {
  readonly runtime: ContainerRuntime;
  /** Removes the given images and stops whatever the setup started (e.g. a private dockerd). */
  teardown(images: readonly string[]): Promise<void>;
}

/** Builds the driver for a registry (podman needs to know which registry is plain HTTP). */
export type RuntimeSetup = (registry: TokenRegistry, workDir: string) => Promise<RuntimeUnderTest>;

const PULL_USER = "gpuaas";
const PUSH_USER = "pusher";

interface ImageRef {
  readonly registry: string;
  readonly repository: string;
  readonly digest: string;
}

function imageOf(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}@${ref.digest}`;
}

interface SpecOptions {
  readonly instance: string;
  readonly generation: number;
  readonly image: ImageRef;
  readonly hostPort?: number;
  readonly readinessPath?: string;
  readonly readinessTimeout?: number;
  readonly gpus?: OciLaunchSpec["container"]["gpus"];
  readonly packages?: readonly string[];
}

function makeSpec(options: SpecOptions): OciLaunchSpec {
  const identity = {
    project_id: "proj-agent-test",
    instance_id: options.instance,
    generation: options.generation,
    correlation_id: `corr-${options.instance}-${options.generation}`,
  };
  return {
    kind: "workload.oci_launch",
    spec_version: 1,
    identity,
    allocation_id: "alloc-test",
    gpu_mask: options.gpus?.indices ?? [],
    container: {
      name: toContainerName(options.instance),
      image: imageOf(options.image),
      registry: options.image.registry,
      repository: options.image.repository,
      digest: options.image.digest,
      labels: {
        [`${LABEL_PREFIX}.managed`]: "true",
        [`${LABEL_PREFIX}.project`]: identity.project_id,
        [`${LABEL_PREFIX}.instance`]: identity.instance_id,
        [`${LABEL_PREFIX}.generation`]: String(identity.generation),
        [`${LABEL_PREFIX}.correlation-id`]: identity.correlation_id,
        [`${LABEL_PREFIX}.app`]: "busyweb",
      },
      env: { GREETING: `hello-from-${options.instance}` },
      args: [
        "/bin/sh",
        "-c",
        [
          'echo "greeting=$GREETING"',
          "cat /etc/boot-note",
          "echo 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789'",
          "echo started > /scratch/started",
          "exec /bin/busybox httpd -f -v -p 8080 -h /www",
        ].join("; "),
      ],
      working_dir: "/www",
      user: "65534:65534",
      ports: [
        {
          endpoint: "web",
          container_port: 8080,
          host_ip: "127.0.0.1",
          ...(options.hostPort !== undefined ? { host_port: options.hostPort } : {}),
          protocol: "tcp",
        },
      ],
      resources: { cpus: 0.5, memory_mib: 64, pids_limit: 64 },
      gpus: options.gpus ?? { vendor: "none", indices: [] },
      mounts: [
        { name: "scratch", target: "/scratch", mode: "scratch", read_only: false },
        { name: "data", target: "/data", mode: "project_storage", read_only: false },
      ],
      security: { cap_drop: ["ALL"], no_new_privileges: true, privileged: false, host_mounts: [] },
    },
    python_packages: options.packages ?? [],
    readiness: [
      {
        name: "web",
        type: "http",
        endpoint: "web",
        path: options.readinessPath ?? "/",
        expect_status: [200],
        timeout_seconds: options.readinessTimeout ?? 20,
        interval_seconds: 0.2,
      },
    ],
  };
}

function controlSpec(instance: string, action: OciControlSpec["action"]): OciControlSpec {
  return {
    kind: "workload.oci_control",
    spec_version: 1,
    identity: {
      project_id: "proj-agent-test",
      instance_id: instance,
      generation: 1,
      correlation_id: `corr-${instance}-${action}`,
    },
    container_name: toContainerName(instance),
    action,
    stop_timeout_seconds: 1,
  };
}

function removeSpec(instance: string): OciRemoveSpec {
  return {
    kind: "workload.oci_remove",
    spec_version: 1,
    identity: {
      project_id: "proj-agent-test",
      instance_id: instance,
      generation: 1,
      correlation_id: `corr-${instance}-remove`,
    },
    container_name: toContainerName(instance),
    remove_scratch: true,
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function curl(port: number, path = "/"): Promise<{ code: number | null; body: string }> {
  const result = await runCommand({
    file: "curl",
    args: ["-sS", "--max-time", "5", `http://127.0.0.1:${port}${path}`],
    timeoutMs: 10_000,
  });
  return { code: result.exitCode, body: result.stdout };
}

async function waitForHttp(port: number, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await curl(port);
    if (result.code === 0) return result.body;
    if (Date.now() > deadline) throw new Error(`nothing answered on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Wraps a driver so the test can see which operations a handler called, and with what. */
function recordCalls(runtime: ContainerRuntime): {
  runtime: ContainerRuntime;
  calls: string[];
  argv: string[];
} {
  const calls: string[] = [];
  const argv: string[] = [];
  const proxy = new Proxy(runtime, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        argv.push(JSON.stringify(args));
        if (property === "createContainer") {
          argv.push(JSON.stringify(target.renderCreateArgs(args[0] as ContainerCreateRequest)));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { runtime: proxy, calls, argv };
}

/**
 * Defines the end-to-end suite for one runtime driver; `label` tells apart two drivers of the same
 * runtime (podman's CLI and API drivers).
 */
export function defineRuntimeSuite(
  name: RuntimeUnderTest["runtime"]["name"],
  setup: RuntimeSetup,
  label: string = name,
): void {
  describe(`agent on ${label}`, { timeout: 180_000 }, () => {
    const pullToken = `tok-${randomBytes(24).toString("hex")}`;
    const wrongToken = `wrong-${randomBytes(24).toString("hex")}`;
    const pushPassword = randomBytes(16).toString("hex");
    const run = randomBytes(3).toString("hex");
    const instance = (label: string) => `agt-${name}-${run}-${label}`;
    const evidence: unknown[] = [];
    const events: TaskEvent[] = [];
    let registry: TokenRegistry;
    let under: RuntimeUnderTest;
    let recorded: ReturnType<typeof recordCalls>;
    let executor: OciExecutor;
    let config: AgentConfig;
    let workDir: string;
    let web: ImageRef;
    let armImage: ImageRef;
    let lockedImage: ImageRef;
    const credential = () => ({ registry: registry.host, token: pullToken });
    const pulled: string[] = [];

    before(async () => {
      workDir = await mkdtemp(join(tmpdir(), `gpuaas-agent-${name}-`));
      registry = await startTokenRegistry({
        [PULL_USER]: { password: pullToken, actions: ["pull"] },
        [PUSH_USER]: { password: pushPassword, actions: ["pull", "push"] },
      });
      const push = { user: PUSH_USER, password: pushPassword };
      // The boot note is printed by the workload: the logs must come back with it redacted.
      const amd64 = await buildBusyboxImage({
        architecture: "amd64",
        bootNote: `boot note: token=${pullToken} ${run}\n`,
      });
      const arm64 = await buildBusyboxImage({ architecture: "arm64", bootNote: `arm ${run}\n` });
      const locked = await buildBusyboxImage({ architecture: "amd64", bootNote: `lk ${run}\n` });
      const ref = async (repository: string, image: typeof amd64): Promise<ImageRef> => ({
        registry: registry.host,
        repository,
        digest: await pushImage(registry, repository, "v1", image, push),
      });
      web = await ref("apps/busyweb", amd64);
      armImage = await ref("apps/busyweb-arm", arm64);
      lockedImage = await ref("apps/busyweb-locked", locked);
      pulled.push(imageOf(web), imageOf(armImage), imageOf(lockedImage));
      const loaded = loadAgentConfig(
        {
          workloadsRoot: join(workDir, "workloads"),
          projectStorageRoot: join(workDir, "projects"),
          secretsDir: join(workDir, "secrets"),
          nodeId: `node-${name}-${run}`,
          pipIndexUrl: "http://127.0.0.1:9/simple",
          minFreeDiskBytes: 64 * 1024 * 1024,
          // httpd as PID 1 ignores SIGTERM: keep the stop grace short.
          stopTimeoutSeconds: 1,
        },
        process.arch,
      );
      assert.ok(loaded.config, JSON.stringify(loaded.issues));
      config = loaded.config;
      await mkdir(config.secretsDir, { recursive: true });
      under = await setup(registry, workDir);
      recorded = recordCalls(under.runtime);
      executor = createOciExecutor({
        runtime: recorded.runtime,
        config,
        onEvent: (event) => events.push(event),
      });
    });

    after(async () => {
      try {
        if (under !== undefined) {
          const leftovers = await under.runtime
            .listContainers({ [`${LABEL_PREFIX}.node`]: config.nodeId ?? "" })
            .catch(() => []);
          for (const container of leftovers) {
            await under.runtime.removeContainer(container.id).catch(() => false);
          }
          await under.teardown(pulled);
        }
      } finally {
        await registry?.stop();
        if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
      }
    });

    it("detects the runtime as present and answering, with its version", async () => {
      const [detected] = await detectRuntimes([under.runtime]);
      assert.ok(detected);
      evidence.push(detected.probe);
      assert.equal(detected.probe.name, name);
      assert.equal(detected.probe.present, true);
      assert.equal(detected.probe.answering, true, detected.probe.problem);
      assert.match(
        detected.probe.server_version ?? detected.probe.client_version ?? "",
        /\d+\.\d+/,
      );
      assert.equal(detected.probe.rootless, false);
      assert.equal(detected.probe.architecture, config.hostArchitecture);
    });

    it("reports runtime status without changing anything", async () => {
      const before = recorded.calls.length;
      const status = await executor.runtimeStatus();
      evidence.push(status);
      const called = recorded.calls.slice(before);
      assert.equal(status.ok, true);
      assert.equal(status.managed_containers, 0);
      assert.deepEqual(
        called.filter((call) => !["probe", "listContainers"].includes(call)),
        [],
        "only probe and list run",
      );
      assert.equal(status.runtime.name, name);
      assert.deepEqual(await readdir(config.secretsDir), []);
    });

    it("refuses a GPU request on this GPU-less host in preflight, before any pull or create", async (t) => {
      const gpus = await probeHostGpus();
      if (gpus.nvidia.tool === "present" || gpus.amd.kfd) {
        t.skip("this host has GPUs; the GPU-less refusal cannot be shown here");
        return;
      }
      const before = recorded.calls.length;
      const nvidia = await executor.launch(
        makeSpec({
          instance: instance("gpu"),
          generation: 1,
          image: web,
          gpus: { vendor: "nvidia", indices: [0] },
        }),
        { credential: credential(), gpuMask: [0] },
      );
      const amd = await executor.launch(
        makeSpec({
          instance: instance("gpu"),
          generation: 1,
          image: web,
          gpus: { vendor: "amd", indices: [0] },
        }),
        { credential: credential(), gpuMask: [0] },
      );
      evidence.push(nvidia, amd);
      assert.equal(nvidia.ok, false);
      assert.equal(nvidia.error?.code, "preflight.gpu_unavailable");
      assert.match(nvidia.error?.message ?? "", /nvidia-smi is not installed/);
      assert.equal(amd.error?.code, "preflight.gpu_unavailable");
      assert.match(amd.error?.message ?? "", /\/dev\/kfd/);
      const called = recorded.calls.slice(before);
      for (const forbidden of ["pullImage", "createContainer", "startContainer"]) {
        assert.ok(
          !called.includes(forbidden),
          `${forbidden} must not run (ran: ${called.join(",")})`,
        );
      }
      assert.equal(
        await under.runtime.inspectContainer(toContainerName(instance("gpu"))),
        undefined,
      );
      assert.equal(await exists(join(config.workloadsRoot, instance("gpu"))), false);
    });

    let hostPort = 0;
    let firstId = "";
    it("launches by digest with the task's credential and answers on 127.0.0.1", async () => {
      hostPort = await freePort();
      const spec = makeSpec({ instance: instance("a"), generation: 1, image: web, hostPort });
      const result = await executor.launch(spec, { credential: credential() });
      evidence.push(result);
      assert.equal(result.ok, true, JSON.stringify(result.error));
      assert.equal(result.action, "created");
      assert.equal(result.pull?.skipped, false);
      assert.equal(result.pull?.credential, fingerprintToken(pullToken));
      assert.equal(result.ports[0]?.host_port, hostPort);
      assert.equal(result.ports[0]?.url, `http://127.0.0.1:${hostPort}`);
      assert.equal(result.readiness?.[0]?.ok, true);
      assert.ok(result.container_id);
      firstId = result.container_id;
      const page = await curl(hostPort);
      assert.equal(page.code, 0);
      assert.equal(page.body, "hello gpuaas\n");
      // Hardening as the kernel sees it: no capabilities, no_new_privs, the requested user.
      const status = await under.runtime.exec(
        spec.container.name,
        ["/bin/busybox", "cat", "/proc/1/status"],
        10_000,
      );
      assert.match(status.output, /CapEff:\s+0000000000000000/);
      assert.match(status.output, /NoNewPrivs:\s+1/);
      assert.match(status.output, /Uid:\s+65534/);
      const details = await under.runtime.inspectContainer(spec.container.name);
      assert.ok(details);
      assert.equal(details.host_config.privileged, false);
      assert.equal(details.host_config.memory_bytes, 64 * 1024 * 1024);
      assert.equal(details.host_config.pids_limit, 64);
      assert.deepEqual(
        details.ports.map((port) => [port.host_ip, port.host_port, port.container_port]),
        [["127.0.0.1", hostPort, 8080]],
      );
      assert.equal(details.labels[`${LABEL_PREFIX}.generation`], "1");
      assert.equal(details.labels[`${LABEL_PREFIX}.node`], config.nodeId);
      // Scratch written by the container as 65534; project storage created; no auth file left.
      const scratch = join(config.workloadsRoot, instance("a"), "scratch");
      assert.equal(await readFile(join(scratch, "started"), "utf8"), "started\n");
      assert.equal(await exists(join(config.projectStorageRoot, "proj-agent-test", "data")), true);
      assert.deepEqual(await readdir(config.secretsDir), []);
    });

    it("reports the running container when the same generation is launched again", async () => {
      const before = recorded.calls.length;
      const result = await executor.launch(
        makeSpec({ instance: instance("a"), generation: 1, image: web, hostPort }),
        { credential: credential() },
      );
      evidence.push(result);
      assert.equal(result.ok, true, JSON.stringify(result.error));
      assert.equal(result.action, "reused");
      assert.equal(result.container_id, firstId);
      assert.equal(result.ports[0]?.host_port, hostPort);
      const called = recorded.calls.slice(before);
      assert.ok(!called.includes("pullImage") && !called.includes("createContainer"));
    });

    it("reads logs with the pull token and bearer credentials redacted", async () => {
      const logs = await executor.readLogs(toContainerName(instance("a")), 50);
      evidence.push(logs);
      assert.equal(logs.ok, true);
      assert.match(logs.text, new RegExp(`greeting=hello-from-${instance("a")}`));
      assert.match(logs.text, /boot note: token=\[REDACTED\]/);
      assert.match(logs.text, /Authorization: Bearer \[REDACTED\]/);
      assert.ok(!logs.text.includes(pullToken));
      assert.ok(!logs.text.includes("abcdefghijklmnopqrstuvwxyz0123456789"));
    });

    it("stops, starts and restarts the container", async () => {
      const stop = await executor.control(controlSpec(instance("a"), "stop"));
      evidence.push(stop);
      assert.equal(stop.ok, true, JSON.stringify(stop.error));
      assert.equal(stop.container?.running, false);
      assert.notEqual((await curl(hostPort)).code, 0);
      const stopAgain = await executor.control(controlSpec(instance("a"), "stop"));
      assert.equal(stopAgain.ok, true);
      assert.equal(stopAgain.changed, false);
      const start = await executor.control(controlSpec(instance("a"), "start"));
      evidence.push(start);
      assert.equal(start.ok, true, JSON.stringify(start.error));
      assert.equal(start.container?.running, true);
      assert.equal(await waitForHttp(hostPort), "hello gpuaas\n");
      const restart = await executor.control(controlSpec(instance("a"), "restart"));
      evidence.push(restart);
      assert.equal(restart.ok, true, JSON.stringify(restart.error));
      assert.equal(restart.container?.running, true);
      assert.equal(await waitForHttp(hostPort), "hello gpuaas\n");
      const missing = await executor.control(controlSpec(instance("nope"), "start"));
      assert.equal(missing.error?.code, "control.not_found");
    });

    let dynamicId = "";
    it("reads back the host port the runtime picked when the spec names none", async () => {
      const result = await executor.launch(
        makeSpec({ instance: instance("b"), generation: 1, image: web }),
        { credential: credential() },
      );
      evidence.push(result);
      assert.equal(result.ok, true, JSON.stringify(result.error));
      assert.equal(result.pull?.skipped, true, "the digest is already local");
      const port = result.ports[0]?.host_port;
      assert.ok(typeof port === "number" && port > 0);
      assert.equal((await curl(port)).body, "hello gpuaas\n");
      dynamicId = result.container_id ?? "";
    });

    it("replaces the container when a new generation is launched", async () => {
      const result = await executor.launch(
        makeSpec({ instance: instance("b"), generation: 2, image: web }),
        { credential: credential() },
      );
      evidence.push(result);
      assert.equal(result.ok, true, JSON.stringify(result.error));
      assert.equal(result.action, "created");
      assert.deepEqual(result.replaced, { container_id: dynamicId, generation: "1" });
      assert.notEqual(result.container_id, dynamicId);
      const details = await under.runtime.inspectContainer(toContainerName(instance("b")));
      assert.equal(details?.labels[`${LABEL_PREFIX}.generation`], "2");
      assert.equal(details?.labels[`${LABEL_PREFIX}.correlation-id`], `corr-${instance("b")}-2`);
    });

    it("fails readiness on a wrong path with a redacted log excerpt", async () => {
      const result = await executor.launch(
        makeSpec({
          instance: instance("c"),
          generation: 1,
          image: web,
          readinessPath: "/missing",
          readinessTimeout: 2,
        }),
        { credential: credential() },
      );
      evidence.push(result);
      assert.equal(result.ok, false);
      assert.equal(result.error?.code, "readiness.timeout");
      assert.match(result.error?.message ?? "", /last: 404/);
      assert.equal(result.readiness?.[0]?.last_status, 404);
      assert.equal(result.failure?.exit_code, null);
      assert.equal(result.failure?.oom_killed, false);
      assert.match(result.failure?.log_excerpt ?? "", /greeting=hello-from/);
      assert.match(result.failure?.log_excerpt ?? "", /\[REDACTED\]/);
      assert.equal(result.error?.details?.log_excerpt, result.failure?.log_excerpt);
      assert.equal(result.error?.details?.phase, "readiness");
      const removed = await executor.remove(removeSpec(instance("c")));
      assert.equal(removed.ok, true);
    });

    it("installs python packages before readiness and reports a bounded excerpt", async () => {
      const ok = await executor.launch(
        makeSpec({
          instance: instance("d"),
          generation: 1,
          image: web,
          packages: ["demo-pkg==1.0"],
        }),
        { credential: credential() },
      );
      evidence.push(ok);
      assert.equal(ok.ok, true, JSON.stringify(ok.error));
      assert.equal(ok.package_install?.ok, true);
      assert.deepEqual(ok.package_install?.packages, ["demo-pkg==1.0"]);
      assert.match(
        ok.package_install?.excerpt ?? "",
        /fake-python -m pip install --no-cache-dir --disable-pip-version-check --index-url http:\/\/127\.0\.0\.1:9\/simple --trusted-host 127\.0\.0\.1 demo-pkg==1\.0/,
      );
      const steps = ok.steps.map((step) => step.step);
      assert.ok(steps.indexOf("packages") < steps.indexOf("readiness"));
      const failed = await executor.launch(
        makeSpec({ instance: instance("d"), generation: 2, image: web, packages: ["fail-me==1"] }),
        { credential: credential() },
      );
      evidence.push(failed);
      assert.equal(failed.error?.code, "packages.install_failed");
      assert.equal(failed.package_install?.exit_code, 1);
      assert.match(
        failed.package_install?.excerpt ?? "",
        /No matching distribution found for fail-me/,
      );
      assert.ok(Buffer.byteLength(failed.package_install?.excerpt ?? "") <= 4096 + 64);
      assert.equal((await executor.remove(removeSpec(instance("d")))).ok, true);
    });

    it("refuses a host port that is already taken, before creating anything", async () => {
      const server: Server = createServer();
      const port = await new Promise<number>((resolve) =>
        server.listen(0, "127.0.0.1", () => {
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : 0);
        }),
      );
      try {
        const before = recorded.calls.length;
        const result = await executor.launch(
          makeSpec({ instance: instance("e"), generation: 1, image: web, hostPort: port }),
          { credential: credential() },
        );
        evidence.push(result);
        assert.equal(result.error?.code, "preflight.port_in_use");
        assert.match(result.error?.message ?? "", new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.ok(!recorded.calls.slice(before).includes("createContainer"));
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it("reports a refused pull credential and leaves no auth file", async () => {
      const result = await executor.launch(
        makeSpec({ instance: instance("f"), generation: 1, image: lockedImage }),
        { credential: { registry: registry.host, token: wrongToken } },
      );
      evidence.push(result);
      assert.equal(result.error?.code, "pull.unauthorized");
      assert.match(result.error?.message ?? "", new RegExp(fingerprintToken(wrongToken)));
      assert.ok(!JSON.stringify(result).includes(wrongToken));
      assert.ok(registry.refusedTokenRequests() > 0, "the runtime sent the wrong credential");
      assert.deepEqual(await readdir(config.secretsDir), []);
      assert.equal(await under.runtime.inspectContainer(toContainerName(instance("f"))), undefined);
      // Without a credential the registry's token service grants nothing: the credential matters.
      const anonymous = await executor.launch(
        makeSpec({ instance: instance("f"), generation: 1, image: lockedImage }),
      );
      evidence.push(anonymous);
      assert.equal(anonymous.error?.code, "pull.unauthorized", JSON.stringify(anonymous.error));
      assert.equal(anonymous.pull, undefined);
    });

    it("refuses an image built for another platform before creating a container", async () => {
      const before = recorded.calls.length;
      const result = await executor.launch(
        makeSpec({ instance: instance("g"), generation: 1, image: armImage }),
        { credential: credential() },
      );
      evidence.push(result);
      assert.equal(result.ok, false);
      assert.equal(result.error?.code, "preflight.platform_mismatch", JSON.stringify(result.error));
      assert.match(result.error?.message ?? "", /linux\/arm64/);
      assert.ok(!recorded.calls.slice(before).includes("createContainer"));
      assert.equal(await under.runtime.inspectContainer(toContainerName(instance("g"))), undefined);
      assert.deepEqual(await readdir(config.secretsDir), []);
    });

    it("rebuilds its state from container labels after a restart", async () => {
      const state = await rebuildState({ runtime: under.runtime, config });
      evidence.push(state);
      const byInstance = new Map(state.containers.map((c) => [c.instance_id, c]));
      assert.deepEqual([...byInstance.keys()].sort(), [instance("a"), instance("b")].sort());
      assert.equal(byInstance.get(instance("a"))?.generation, 1);
      assert.equal(byInstance.get(instance("a"))?.correlation_id, `corr-${instance("a")}-1`);
      assert.equal(byInstance.get(instance("a"))?.running, true);
      assert.equal(byInstance.get(instance("a"))?.ports[0]?.host_port, hostPort);
      assert.equal(byInstance.get(instance("b"))?.generation, 2);
      assert.equal(state.auth_dirs_removed, 0);
    });

    it("removes the container and scratch space, keeps project storage, leaves no auth file", async () => {
      const result = await executor.remove(removeSpec(instance("a")));
      evidence.push(result);
      assert.equal(result.ok, true, JSON.stringify(result.error));
      assert.equal(result.container_removed, true);
      assert.equal(result.scratch_removed, true);
      assert.equal(await under.runtime.inspectContainer(toContainerName(instance("a"))), undefined);
      assert.equal(await exists(join(config.workloadsRoot, instance("a"))), false);
      assert.equal(await exists(join(config.projectStorageRoot, "proj-agent-test", "data")), true);
      assert.deepEqual(await readdir(config.secretsDir), []);
      assert.notEqual((await curl(hostPort)).code, 0);
      const again = await executor.remove(removeSpec(instance("a")));
      assert.equal(again.ok, true);
      assert.equal(again.container_removed, false);
      assert.equal((await executor.remove(removeSpec(instance("b")))).ok, true);
      const left = await under.runtime.listContainers({
        [`${LABEL_PREFIX}.node`]: config.nodeId ?? "",
      });
      assert.deepEqual(left, []);
    });

    it("never lets the pull token into a result, a log, an event or a runtime's arguments", () => {
      const everything = JSON.stringify([evidence, events, recorded.argv]);
      assert.ok(
        recorded.argv.some((args) => args.includes("--cap-drop")),
        "create argv recorded",
      );
      assert.ok(evidence.length >= 15, `collected ${evidence.length} results`);
      assert.ok(events.length > 0);
      for (const secret of [
        pullToken,
        wrongToken,
        Buffer.from(pullToken).toString("base64"),
        Buffer.from(`${PULL_USER}:${pullToken}`).toString("base64"),
        Buffer.from(`${PULL_USER}:${wrongToken}`).toString("base64"),
      ]) {
        assert.ok(!everything.includes(secret), "a pull secret leaked into the evidence");
      }
    });
  });
}
