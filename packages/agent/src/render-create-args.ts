import type { ContainerCreateRequest, GpuRequest, RuntimeName } from "./container-runtime.js";

/** DRM render nodes start at minor 128: GPU index N is `/dev/dri/renderD<128+N>`. */
export const RENDER_NODE_BASE = 128;

/**
 * The flags that attach GPUs by device index, per runtime and vendor (reference: execution.md §0,
 * §1.1). Docker and nerdctl take `--gpus "device=0,1"` (the inner quotes survive because the value
 * is CSV-parsed; there is no shell here). Podman takes one CDI device per GPU, which fails loudly
 * when no CDI spec exists, because podman 4's `--gpus` is a silent no-op. AMD is the same on every
 * runtime: `/dev/kfd` plus one render node per GPU.
 *
 * @example
 * renderGpuArgs("docker", { vendor: "nvidia", indices: [0, 1] }) // ["--gpus", '"device=0,1"']
 */
export function renderGpuArgs(runtime: RuntimeName, gpus: GpuRequest): string[] {
  if (gpus.vendor === "none" || gpus.indices.length === 0) return [];
  const indices = [...gpus.indices].sort((a, b) => a - b);
  if (gpus.vendor === "amd") {
    return [
      "--device",
      "/dev/kfd",
      ...indices.flatMap((index) => ["--device", `/dev/dri/renderD${RENDER_NODE_BASE + index}`]),
    ];
  }
  if (runtime === "podman") {
    return indices.flatMap((index) => ["--device", `nvidia.com/gpu=${index}`]);
  }
  return ["--gpus", `"device=${indices.join(",")}"`];
}

function formatCpus(cpus: number): string {
  // At most three decimals: runtimes take a decimal number of CPUs.
  return String(Math.round(cpus * 1000) / 1000);
}

/**
 * The argv after the runtime binary for `create`: deterministic name, labels, loopback-only ports,
 * limits, GPUs, env, workdir, user, bind mounts, a hardened security profile, then the image and
 * its arguments. Keys are sorted so the same request gives the same argv.
 *
 * @example
 * renderCreateArgs("podman", request) // ["create", "--name", "gpuaas-inst-1", "--pull", "never", …]
 */
export function renderCreateArgs(runtime: RuntimeName, request: ContainerCreateRequest): string[] {
  const args = ["create", "--name", request.name, "--pull", "never"];
  for (const key of Object.keys(request.labels).sort()) {
    args.push("--label", `${key}=${request.labels[key]}`);
  }
  for (const port of request.ports) {
    const host = port.host_port === undefined ? "" : String(port.host_port);
    args.push("-p", `127.0.0.1:${host}:${port.container_port}/tcp`);
  }
  args.push("--cpus", formatCpus(request.cpus));
  args.push("--memory", `${Math.floor(request.memory_mib)}m`);
  args.push("--pids-limit", String(request.pids_limit));
  args.push(...renderGpuArgs(runtime, request.gpus));
  for (const key of Object.keys(request.env).sort()) {
    args.push("-e", `${key}=${request.env[key]}`);
  }
  if (request.working_dir !== undefined) args.push("--workdir", request.working_dir);
  if (request.user !== undefined) args.push("--user", request.user);
  for (const mount of request.mounts) {
    const options = mount.read_only ? ",readonly" : "";
    args.push("--mount", `type=bind,source=${mount.source},target=${mount.target}${options}`);
  }
  args.push("--cap-drop", "ALL", "--security-opt", "no-new-privileges");
  if (request.privileged) args.push("--privileged");
  args.push(request.image);
  if (request.args !== undefined) args.push(...request.args);
  return args;
}
