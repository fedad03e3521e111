import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ContainerCreateRequest } from "./container-runtime.js";
import { renderCreateArgs, renderGpuArgs } from "./render-create-args.js";

const request: ContainerCreateRequest = {
  name: "gpuaas-inst-1",
  image: `127.0.0.1:5055/apps/web@sha256:${"ab".repeat(32)}`,
  labels: { "dev.gpuaas.instance": "inst-1", "dev.gpuaas.generation": "3" },
  env: { B: "2", A: "1" },
  args: ["--port", "8080"],
  working_dir: "/work",
  user: "1000:100",
  ports: [{ container_port: 8080, host_port: 18080 }, { container_port: 9090 }],
  cpus: 1.5,
  memory_mib: 2048,
  pids_limit: 512,
  gpus: { vendor: "nvidia", indices: [1, 0] },
  mounts: [
    { source: "/var/lib/gpuaas/workloads/inst-1/home", target: "/home/user", read_only: false },
    { source: "/srv/projects/p1/data", target: "/data", read_only: true },
  ],
  privileged: false,
};

describe("renderGpuArgs", () => {
  it("docker and nerdctl: one --gpus with the quoted device list (no shell strips the quotes)", () => {
    assert.deepEqual(renderGpuArgs("docker", { vendor: "nvidia", indices: [0, 1] }), [
      "--gpus",
      '"device=0,1"',
    ]);
    assert.deepEqual(renderGpuArgs("nerdctl", { vendor: "nvidia", indices: [3] }), [
      "--gpus",
      '"device=3"',
    ]);
  });

  it("podman: one CDI device per GPU, never --gpus (a silent no-op on podman 4)", () => {
    assert.deepEqual(renderGpuArgs("podman", { vendor: "nvidia", indices: [2, 0] }), [
      "--device",
      "nvidia.com/gpu=0",
      "--device",
      "nvidia.com/gpu=2",
    ]);
  });

  it("AMD on every runtime: /dev/kfd and the render node of each GPU", () => {
    for (const runtime of ["podman", "docker", "nerdctl"] as const) {
      assert.deepEqual(renderGpuArgs(runtime, { vendor: "amd", indices: [0, 2] }), [
        "--device",
        "/dev/kfd",
        "--device",
        "/dev/dri/renderD128",
        "--device",
        "/dev/dri/renderD130",
      ]);
    }
  });

  it("nothing for CPU-only workloads", () => {
    assert.deepEqual(renderGpuArgs("docker", { vendor: "none", indices: [] }), []);
    assert.deepEqual(renderGpuArgs("podman", { vendor: "nvidia", indices: [] }), []);
  });
});

describe("renderCreateArgs", () => {
  it("renders the exact, deterministic create argv", () => {
    assert.deepEqual(renderCreateArgs("podman", request), [
      "create",
      "--name",
      "gpuaas-inst-1",
      "--pull",
      "never",
      "--label",
      "dev.gpuaas.generation=3",
      "--label",
      "dev.gpuaas.instance=inst-1",
      "-p",
      "127.0.0.1:18080:8080/tcp",
      "-p",
      "127.0.0.1::9090/tcp",
      "--cpus",
      "1.5",
      "--memory",
      "2048m",
      "--pids-limit",
      "512",
      "--device",
      "nvidia.com/gpu=0",
      "--device",
      "nvidia.com/gpu=1",
      "-e",
      "A=1",
      "-e",
      "B=2",
      "--workdir",
      "/work",
      "--user",
      "1000:100",
      "--mount",
      "type=bind,source=/var/lib/gpuaas/workloads/inst-1/home,target=/home/user",
      "--mount",
      "type=bind,source=/srv/projects/p1/data,target=/data,readonly",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      `127.0.0.1:5055/apps/web@sha256:${"ab".repeat(32)}`,
      "--port",
      "8080",
    ]);
  });

  it("differs between runtimes only in the GPU flags", () => {
    const docker = renderCreateArgs("docker", request);
    const podman = renderCreateArgs("podman", request);
    const strip = (args: string[]) =>
      args.filter(
        (arg, i) =>
          !/^(--gpus|--device)$/.test(arg) && !/^(--gpus|--device)$/.test(args[i - 1] ?? ""),
      );
    assert.deepEqual(strip(docker), strip(podman));
    assert.ok(docker.includes('"device=0,1"'));
  });

  it("publishes on 127.0.0.1 only and adds --privileged only when the spec says so", () => {
    const args = renderCreateArgs("docker", request);
    const published = args.filter((_, i) => args[i - 1] === "-p");
    assert.ok(published.every((value) => value.startsWith("127.0.0.1:")));
    assert.ok(!args.includes("--privileged"));
    assert.ok(
      renderCreateArgs("docker", { ...request, privileged: true }).includes("--privileged"),
    );
  });

  it("keeps image arguments after the image, even when they look like flags", () => {
    const args = renderCreateArgs("docker", {
      ...request,
      args: ["--privileged", "-v", "/:/host"],
    });
    const image = args.indexOf(request.image);
    assert.deepEqual(args.slice(image + 1), ["--privileged", "-v", "/:/host"]);
    assert.ok(!args.slice(0, image).includes("--privileged"));
  });
});
