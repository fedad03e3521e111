import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { classifyFailure } from "./cli-runtime.js";
import { RuntimeCommandError } from "./container-runtime.js";
import { createDockerRuntime, toDockerProbe } from "./docker-runtime.js";
import { createNerdctlRuntime } from "./nerdctl-runtime.js";
import {
  createPodmanRuntime,
  DEFAULT_CONTAINERS_CONF,
  isLoopbackRegistry,
  renderContainersConf,
} from "./podman-runtime.js";
import type { CommandRequest, CommandResult } from "./run-command.js";

function fakeRunner(answer: Partial<CommandResult> = {}) {
  const requests: CommandRequest[] = [];
  const run = async (request: CommandRequest): Promise<CommandResult> => {
    requests.push(request);
    return {
      exitCode: 0,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      truncated: false,
      durationMs: 1,
      ...answer,
    };
  };
  return { run, requests };
}

const IMAGE = `127.0.0.1:5055/apps/web@sha256:${"ab".repeat(32)}`;

describe("podman driver", () => {
  it("writes its containers.conf once and points CONTAINERS_CONF at it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-conf-"));
    try {
      const path = join(dir, "sub", "containers.conf");
      const { run, requests } = fakeRunner();
      const podman = createPodmanRuntime({
        run,
        containersConf: { path, ...DEFAULT_CONTAINERS_CONF },
      });
      await podman.startContainer("x");
      await podman.startContainer("y");
      assert.equal(
        await readFile(path, "utf8"),
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\n\n[engine]\nruntime = "runc"\n',
      );
      assert.equal(requests[0]?.env?.CONTAINERS_CONF, path);
      assert.deepEqual(
        requests.map((request) => request.args),
        [
          ["start", "x"],
          ["start", "y"],
        ],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pulls with --authfile and plain HTTP only for the listed loopback registry", async () => {
    const { run, requests } = fakeRunner();
    const podman = createPodmanRuntime({ run, plainHttpRegistries: ["127.0.0.1:5055"] });
    await podman.pullImage(IMAGE, { authDir: "/run/gpuaas/pull-x" });
    await podman.pullImage(`quay.example/apps/web@sha256:${"ab".repeat(32)}`, {});
    assert.deepEqual(requests[0]?.args, [
      "pull",
      "--quiet",
      "--authfile",
      "/run/gpuaas/pull-x/config.json",
      "--tls-verify=false",
      IMAGE,
    ]);
    assert.ok(!requests[1]?.args.includes("--tls-verify=false"));
    assert.throws(
      () => createPodmanRuntime({ plainHttpRegistries: ["registry.example:5000"] }),
      /loopback/,
    );
  });

  it("removes without a stop grace period (the agent stops gracefully first)", async () => {
    const { run, requests } = fakeRunner();
    await createPodmanRuntime({ run }).removeContainer("gpuaas-inst-1");
    assert.deepEqual(requests[0]?.args, [
      "rm",
      "--force",
      "--volumes",
      "--time",
      "0",
      "gpuaas-inst-1",
    ]);
  });
});

describe("docker driver", () => {
  it("pulls with a private DOCKER_CONFIG and talks to the configured DOCKER_HOST", async () => {
    const { run, requests } = fakeRunner();
    const docker = createDockerRuntime({ run, host: "unix:///tmp/d/docker.sock" });
    await docker.pullImage(IMAGE, { authDir: "/run/gpuaas/pull-y" });
    assert.deepEqual(requests[0]?.args, ["pull", "--quiet", IMAGE]);
    assert.equal(requests[0]?.env?.DOCKER_CONFIG, "/run/gpuaas/pull-y");
    assert.equal(requests[0]?.env?.DOCKER_HOST, "unix:///tmp/d/docker.sock");
  });

  it("reads the NVIDIA runtime, rootless mode and a podman backend from version and info", () => {
    const probe = toDockerProbe(
      {
        Client: { Version: "28.2.2" },
        Server: { Version: "4.3.1", Components: [{ Name: "Podman Engine" }] },
      },
      {
        Runtimes: { runc: {}, nvidia: {} },
        SecurityOptions: ["name=seccomp,profile=default", "name=rootless"],
        Architecture: "x86_64",
        DockerRootDir: "/var/lib/docker",
      },
    );
    assert.equal(probe.nvidia_runtime, true);
    assert.equal(probe.rootless, true);
    assert.equal(probe.podman_backend, true);
    assert.equal(probe.architecture, "amd64");
    assert.equal(
      toDockerProbe({ Client: { Version: "28.2.2" }, Server: null }, undefined).answering,
      false,
    );
  });
});

describe("nerdctl driver", () => {
  it("inspects in dockercompat mode and lists with a JSON template", async () => {
    const { run, requests } = fakeRunner({ stdout: "" });
    const nerdctl = createNerdctlRuntime({ run, namespace: "gpuaas" });
    await nerdctl.listContainers({ "dev.gpuaas.managed": "true" });
    await nerdctl.inspectContainer("gpuaas-inst-1");
    assert.deepEqual(requests[0]?.args, [
      "ps",
      "-a",
      "--no-trunc",
      "--filter",
      "label=dev.gpuaas.managed=true",
      "--format",
      "{{json .}}",
    ]);
    assert.deepEqual(requests[1]?.args, [
      "container",
      "inspect",
      "--mode=dockercompat",
      "gpuaas-inst-1",
    ]);
    assert.equal(requests[0]?.env?.CONTAINERD_NAMESPACE, "gpuaas");
  });
});

describe("failures", () => {
  const result = (stderr: string, extra: Partial<CommandResult> = {}): CommandResult => ({
    exitCode: 125,
    signal: null,
    stdout: "",
    stderr,
    timedOut: false,
    truncated: false,
    durationMs: 1,
    ...extra,
  });

  it("classifies what the runtimes print into stable kinds", () => {
    assert.equal(
      classifyFailure(
        result(
          "Error: initializing source: unable to retrieve auth token: invalid username/password: unauthorized",
        ),
      ),
      "unauthorized",
    );
    assert.equal(
      classifyFailure(
        result("Error response from daemon: manifest for x@sha256:1 not found: manifest unknown"),
      ),
      "manifest_unknown",
    );
    assert.equal(classifyFailure(result("Error: no such container gpuaas-x")), "not_found");
    assert.equal(classifyFailure(result("Error: No such container: gpuaas-x")), "not_found");
    assert.equal(classifyFailure(result("", { timedOut: true })), "timeout");
    assert.equal(classifyFailure(result("", { spawnError: "ENOENT" })), "missing_binary");
    assert.equal(classifyFailure(result("Error: something else")), "failed");
  });

  it("throws a RuntimeCommandError with bounded, redacted stderr", async () => {
    const { run } = fakeRunner({
      exitCode: 125,
      stderr: `Error: bad auth Basic ${"QWxhZGRpbjpvcGVuc2VzYW1l"} ${"x".repeat(10_000)}`,
    });
    const error = await createPodmanRuntime({ run })
      .startContainer("x")
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof RuntimeCommandError);
    assert.ok(!error.stderr.includes("QWxhZGRpbjpvcGVuc2VzYW1l"));
    assert.ok(error.stderr.length < 2200);
  });

  it("knows a loopback registry when it sees one", () => {
    assert.equal(isLoopbackRegistry("127.0.0.1:5055"), true);
    assert.equal(isLoopbackRegistry("localhost:5000"), true);
    assert.equal(isLoopbackRegistry("[::1]:5000"), true);
    assert.equal(isLoopbackRegistry("10.0.0.1:5000"), false);
    assert.equal(renderContainersConf({}), "");
  });
});
