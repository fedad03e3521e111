import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ContainerCreateRequest } from "./container-runtime.js";
import { renderCreateArgs } from "./render-create-args.js";
import { renderLibpodSpec, toLibpodUlimits } from "./render-libpod-spec.js";

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
const ulimits = toLibpodUlimits(["nofile=1024:1024", "nproc=1000:1000"]);

/** The `--device` values of the CLI argv, in order. */
function cliDevices(argv: readonly string[]): string[] {
  return argv.flatMap((arg, index) => (argv[index - 1] === "--device" ? [arg] : []));
}

describe("toLibpodUlimits", () => {
  it("reads containers.conf default_ulimits (soft:hard, or one value for both)", () => {
    assert.deepEqual(toLibpodUlimits(["nofile=1024:2048", "nproc=1000", "core=-1:-1"]), [
      { type: "nofile", soft: 1024, hard: 2048 },
      { type: "nproc", soft: 1000, hard: 1000 },
      { type: "core", soft: -1, hard: -1 },
    ]);
  });

  it("leaves out entries that do not parse", () => {
    assert.deepEqual(toLibpodUlimits(["nofile", "=1:2", "nofile=a:b", "NOFILE=1:1"]), []);
  });
});

describe("renderLibpodSpec", () => {
  it("renders the hardened create body the CLI argv stands for", () => {
    const argv = renderCreateArgs("podman", request);
    assert.deepEqual(renderLibpodSpec(request, { ulimits, createCommand: ["podman", ...argv] }), {
      name: "gpuaas-inst-1",
      image: request.image,
      labels: { "dev.gpuaas.generation": "3", "dev.gpuaas.instance": "inst-1" },
      env: { B: "2", A: "1" },
      command: ["--port", "8080"],
      work_dir: "/work",
      user: "1000:100",
      portmappings: [
        { host_ip: "127.0.0.1", host_port: 18080, container_port: 8080, protocol: "tcp" },
        { host_ip: "127.0.0.1", host_port: 0, container_port: 9090, protocol: "tcp" },
      ],
      resource_limits: {
        cpu: { quota: 150_000, period: 100_000 },
        memory: { limit: 2048 * 1024 * 1024 },
        pids: { limit: 512 },
      },
      devices: [{ path: "nvidia.com/gpu=0" }, { path: "nvidia.com/gpu=1" }],
      mounts: [
        {
          type: "bind",
          source: "/var/lib/gpuaas/workloads/inst-1/home",
          destination: "/home/user",
          options: ["rbind"],
        },
        {
          type: "bind",
          source: "/srv/projects/p1/data",
          destination: "/data",
          options: ["rbind", "ro"],
        },
      ],
      cap_drop: ["ALL"],
      no_new_privileges: true,
      privileged: false,
      r_limits: [
        { type: "nofile", soft: 1024, hard: 1024 },
        { type: "nproc", soft: 1000, hard: 1000 },
      ],
      terminal: false,
      sdnotifyMode: "container",
      containerCreateCommand: ["podman", ...argv],
    });
  });

  it("attaches AMD GPUs as /dev/kfd plus one render node each, as the CLI does", () => {
    const amd = { ...request, gpus: { vendor: "amd", indices: [2, 0] } } as const;
    assert.deepEqual(renderLibpodSpec(amd, { ulimits }).devices, [
      { path: "/dev/kfd" },
      { path: "/dev/dri/renderD128" },
      { path: "/dev/dri/renderD130" },
    ]);
  });

  it("keeps the image's command, workdir and user when the request names none", () => {
    const bare: ContainerCreateRequest = {
      ...request,
      gpus: { vendor: "none", indices: [] },
      privileged: true,
    };
    delete (bare as { args?: unknown }).args;
    delete (bare as { working_dir?: unknown }).working_dir;
    delete (bare as { user?: unknown }).user;
    const spec = renderLibpodSpec(bare, { ulimits: [] });
    assert.equal("command" in spec, false);
    assert.equal("work_dir" in spec, false);
    assert.equal("user" in spec, false);
    assert.deepEqual(spec.devices, []);
    assert.equal(spec.privileged, true);
    assert.deepEqual(spec.cap_drop, ["ALL"]);
    assert.equal("containerCreateCommand" in spec, false);
  });

  it("agrees with the CLI argv on devices, limits, ports and mounts for any request", () => {
    const gpus = fc.oneof(
      fc.constant({ vendor: "none" as const, indices: [] as number[] }),
      fc.record({
        vendor: fc.constantFrom("nvidia" as const, "amd" as const),
        indices: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 8 }),
      }),
    );
    fc.assert(
      fc.property(
        gpus,
        fc.double({ min: 0.001, max: 256, noNaN: true }),
        fc.double({ min: 1, max: 1_000_000, noNaN: true }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.record({ container_port: fc.integer({ min: 1, max: 65535 }) }), {
          maxLength: 4,
        }),
        fc.boolean(),
        (gpu, cpus, memory, pids, ports, readOnly) => {
          const input: ContainerCreateRequest = {
            ...request,
            gpus: gpu,
            cpus,
            memory_mib: memory,
            pids_limit: pids,
            ports,
            mounts: [{ source: "/srv/x", target: "/x", read_only: readOnly }],
          };
          const argv = renderCreateArgs("podman", input);
          const spec = renderLibpodSpec(input, { ulimits });
          assert.deepEqual(
            spec.devices.map((device) => device.path),
            cliDevices(argv),
          );
          const cpuFlag = Number(argv[argv.indexOf("--cpus") + 1]);
          assert.equal(spec.resource_limits.cpu.quota, Math.round(cpuFlag * 100_000));
          assert.equal(
            spec.resource_limits.memory.limit,
            Number.parseInt(argv[argv.indexOf("--memory") + 1] ?? "", 10) * 1024 * 1024,
          );
          assert.equal(
            String(spec.resource_limits.pids.limit),
            argv[argv.indexOf("--pids-limit") + 1],
          );
          assert.deepEqual(
            spec.portmappings.map((port) => `${port.host_ip}::${port.container_port}/tcp`),
            argv.flatMap((arg, index) => (argv[index - 1] === "-p" ? [arg] : [])),
          );
          assert.equal(spec.mounts[0]?.options.includes("ro"), readOnly);
        },
      ),
    );
  });
});
