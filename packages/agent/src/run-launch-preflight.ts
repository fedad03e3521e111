import type { OciLaunchSpec } from "@gpuaas/engines";
import type { AgentConfig } from "./agent-config.js";
import type { AgentIssue } from "./agent-errors.js";
import type {
  ContainerDetails,
  ContainerRuntime,
  RuntimeName,
  RuntimeProbe,
} from "./container-runtime.js";
import { type HostGpuInventory, hasCdiDevice } from "./gpu-inventory.js";
import { formatBytes, freeDiskBytes, isLoopbackPortFree } from "./host-checks.js";
import { fingerprintToken, type PullCredential } from "./registry-auth.js";
import { RENDER_NODE_BASE } from "./render-create-args.js";
import { findExecutable } from "./run-command.js";

/** What the preflight looks at besides the spec. */
export interface PreflightContext {
  readonly runtime: ContainerRuntime;
  readonly probe: RuntimeProbe;
  readonly config: AgentConfig;
  readonly credential?: PullCredential;
  readonly gpuMask: readonly number[];
  readonly probeGpus: () => Promise<HostGpuInventory>;
  /** The instance's container of an older generation, which this launch replaces. */
  readonly replaced?: ContainerDetails;
}

/** The sentence for a runtime that is missing or not answering, or none when it is usable. */
export function checkRuntime(probe: RuntimeProbe): AgentIssue | undefined {
  if (!probe.present) {
    return {
      pointer: "",
      code: "preflight.runtime_missing",
      message: `${probe.binary} is not installed on this host: install podman (preferred) or docker, or configure the agent with the runtime that is`,
    };
  }
  if (!probe.answering) {
    return {
      pointer: "",
      code: "preflight.runtime_not_answering",
      message: `${probe.name} is installed but does not answer (${probe.problem ?? "no detail"}): start its daemon or fix its configuration, then retry`,
    };
  }
  return undefined;
}

/**
 * Whether the GPUs a spec asks for are inside the allocation's mask, exist on the host and can be
 * attached by this runtime, proven rather than assumed: docker needs the NVIDIA runtime registered
 * with dockerd (and a real dockerd, not podman's compat socket), podman needs a CDI spec naming
 * `nvidia.com/gpu=<index>`, AMD needs `/dev/kfd` and the render node. Refuses instead of letting a
 * runtime start the workload without GPUs.
 */
export async function checkGpuRequest(
  gpus: OciLaunchSpec["container"]["gpus"],
  runtime: RuntimeName,
  probe: RuntimeProbe,
  gpuMask: readonly number[],
  inventory: () => Promise<HostGpuInventory>,
): Promise<AgentIssue[]> {
  if (gpus.indices.length === 0) return [];
  const issues: AgentIssue[] = [];
  const outside = gpus.indices.filter((index) => !gpuMask.includes(index));
  if (outside.length > 0) {
    issues.push({
      pointer: "/container/gpus/indices",
      code: "preflight.gpu_outside_mask",
      message: `GPU ${outside.join(", ")} is outside this allocation's GPU mask (${gpuMask.join(", ") || "no GPUs"}): the control plane must claim GPUs from the allocation's mask`,
    });
  }
  const unavailable = (message: string): void => {
    issues.push({ pointer: "/container/gpus", code: "preflight.gpu_unavailable", message });
  };
  const host = await inventory();
  if (gpus.vendor === "nvidia") {
    if (host.nvidia.tool !== "present") {
      unavailable(
        host.nvidia.tool === "absent"
          ? "NVIDIA GPUs were requested but nvidia-smi is not installed, so this host has no usable NVIDIA driver: install the driver and the NVIDIA Container Toolkit, or place the workload on a GPU host"
          : `NVIDIA GPUs were requested but nvidia-smi failed (${host.nvidia.problem ?? "no detail"}): fix the NVIDIA driver on this host`,
      );
      return issues;
    }
    const known = new Set(host.nvidia.gpus.map((gpu) => gpu.index));
    const missing = gpus.indices.filter((index) => !known.has(index));
    if (missing.length > 0) {
      unavailable(
        `nvidia-smi lists GPUs ${[...known].join(", ") || "none"}; GPU ${missing.join(", ")} does not exist on this host: correct the allocation's GPU mask`,
      );
    }
    if (runtime === "podman") {
      const noCdi = gpus.indices.filter(
        (index) => !hasCdiDevice(host.cdi, "nvidia.com/gpu", String(index)),
      );
      if (noCdi.length > 0) {
        unavailable(
          `no CDI spec names nvidia.com/gpu=${noCdi.join(",")}, and podman would start the container without it: run "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml" on this host`,
        );
      }
    } else if (runtime === "docker") {
      if (probe.podman_backend === true) {
        unavailable(
          "the docker socket is podman's compat API, which silently drops GPU requests: configure the agent with the podman driver instead",
        );
      } else if (probe.nvidia_runtime !== true) {
        unavailable(
          'dockerd has no "nvidia" runtime registered: run "nvidia-ctk runtime configure --runtime=docker" and restart dockerd',
        );
      }
    } else if ((await findExecutable("nvidia-container-cli")) === undefined) {
      unavailable(
        "nerdctl attaches NVIDIA GPUs through nvidia-container-cli, which is not installed: install the NVIDIA Container Toolkit",
      );
    }
    return issues;
  }
  if (gpus.vendor === "amd") {
    if (!host.amd.kfd) {
      unavailable(
        "AMD GPUs were requested but /dev/kfd does not exist: install the amdgpu driver (ROCm) on this host",
      );
      return issues;
    }
    const missing = gpus.indices.filter((index) => !host.amd.indices.includes(index));
    if (missing.length > 0) {
      unavailable(
        `no render node for GPU ${missing.join(", ")} (${missing.map((index) => `/dev/dri/renderD${RENDER_NODE_BASE + index}`).join(", ")}): correct the allocation's GPU mask`,
      );
    }
    return issues;
  }
  unavailable(
    `the agent cannot attach ${gpus.vendor} GPUs: place the workload on an NVIDIA or AMD host`,
  );
  return issues;
}

/** Host ports the spec asks for that something other than the replaced container holds. */
async function checkPorts(
  spec: OciLaunchSpec,
  replaced: ContainerDetails | undefined,
): Promise<AgentIssue[]> {
  const issues: AgentIssue[] = [];
  const held = new Set((replaced?.ports ?? []).map((port) => port.host_port));
  for (const [index, port] of spec.container.ports.entries()) {
    if (port.host_port === undefined || held.has(port.host_port)) continue;
    if (!(await isLoopbackPortFree(port.host_port))) {
      issues.push({
        pointer: `/container/ports/${index}/host_port`,
        code: "preflight.port_in_use",
        message: `127.0.0.1:${port.host_port} is already in use on this host: stop what listens there or relaunch with another host port`,
      });
    }
  }
  return issues;
}

async function checkDisk(
  spec: OciLaunchSpec,
  probe: RuntimeProbe,
  config: AgentConfig,
): Promise<AgentIssue[]> {
  const paths = new Map<string, string>();
  paths.set(config.workloadsRoot, "the workloads root");
  if (spec.container.mounts.some((mount) => mount.mode === "project_storage")) {
    paths.set(config.projectStorageRoot, "the project storage root");
  }
  if (probe.storage_root !== undefined)
    paths.set(probe.storage_root, `${probe.name}'s image store`);
  const issues: AgentIssue[] = [];
  for (const [path, what] of paths) {
    const free = await freeDiskBytes(path);
    if (free !== undefined && free < config.minFreeDiskBytes) {
      issues.push({
        pointer: "",
        code: "preflight.disk_low",
        message: `only ${formatBytes(free)} free for ${what} (${path}); the agent needs ${formatBytes(config.minFreeDiskBytes)}: free space on that file system (e.g. prune unused images)`,
      });
    }
  }
  return issues;
}

/** The sentence for an image whose platform is not the host's, or none. */
export function checkPlatform(
  image: { architecture: string; os: string },
  hostArchitecture: string,
): AgentIssue | undefined {
  if ((image.os === "" || image.os === "linux") && image.architecture === hostArchitecture) {
    return undefined;
  }
  return {
    pointer: "/container/image",
    code: "preflight.platform_mismatch",
    message: `the image is built for ${image.os || "?"}/${image.architecture || "?"} but this host is linux/${hostArchitecture}: publish an artifact for ${hostArchitecture} or place the workload on a matching host`,
  };
}

/**
 * Every check a launch must pass before the agent pulls, creates or starts anything: credential
 * for the right registry, GPUs (mask, presence, runtime path), host ports free on 127.0.0.1, disk
 * space, the package index configured, and the platform of an image already present. Returns
 * every problem found; an empty list means go.
 */
export async function runLaunchPreflight(
  spec: OciLaunchSpec,
  context: PreflightContext,
): Promise<AgentIssue[]> {
  const { config, credential } = context;
  const issues: AgentIssue[] = [];
  if (credential !== undefined && credential.registry !== spec.container.registry) {
    issues.push({
      pointer: "/container/registry",
      code: "preflight.credential_mismatch",
      message: `the task's pull credential (${fingerprintToken(credential.token)}) is for ${credential.registry}, not ${spec.container.registry}: the control plane must mint it for the image's registry`,
    });
  }
  issues.push(
    ...(await checkGpuRequest(
      spec.container.gpus,
      context.runtime.name,
      context.probe,
      context.gpuMask,
      context.probeGpus,
    )),
  );
  issues.push(...(await checkPorts(spec, context.replaced)));
  issues.push(...(await checkDisk(spec, context.probe, config)));
  if (spec.python_packages.length > 0 && config.pipIndexUrl === undefined) {
    issues.push({
      pointer: "/python_packages",
      code: "packages.index_unconfigured",
      message:
        "the profile asks for python packages but the agent has no package index configured: set the agent's pipIndexUrl",
    });
  }
  const local = await context.runtime.inspectImage(spec.container.image);
  if (local !== undefined) {
    const mismatch = checkPlatform(local, config.hostArchitecture);
    if (mismatch !== undefined) issues.push(mismatch);
  }
  return issues;
}
