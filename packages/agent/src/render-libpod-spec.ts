import type { ContainerCreateRequest } from "./container-runtime.js";
import { renderGpuArgs } from "./render-create-args.js";

/** One `r_limits` entry of a libpod SpecGenerator (`setrlimit` names without the `RLIMIT_`). */
export interface LibpodUlimit {
  readonly type: string;
  readonly soft: number;
  readonly hard: number;
}

/**
 * The slice of libpod's SpecGenerator (`POST /libpod/containers/create`, podman 4.x) the agent
 * writes. Field names are libpod's own JSON names.
 */
export interface LibpodSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly work_dir?: string;
  readonly user?: string;
  readonly portmappings: readonly {
    readonly host_ip: string;
    readonly host_port: number;
    readonly container_port: number;
    readonly protocol: "tcp";
  }[];
  readonly resource_limits: {
    readonly cpu: { readonly quota: number; readonly period: number };
    readonly memory: { readonly limit: number };
    readonly pids: { readonly limit: number };
  };
  readonly devices: readonly { readonly path: string }[];
  readonly mounts: readonly {
    readonly type: "bind";
    readonly source: string;
    readonly destination: string;
    readonly options: readonly string[];
  }[];
  readonly cap_drop: readonly string[];
  readonly no_new_privileges: boolean;
  readonly privileged: boolean;
  readonly r_limits: readonly LibpodUlimit[];
  readonly terminal: false;
  readonly sdnotifyMode: "container";
  readonly containerCreateCommand?: readonly string[];
}

/** The CFS period `--cpus` uses; the quota is `cpus × period`. */
export const CPU_PERIOD_US = 100_000;

/**
 * Reads containers.conf `default_ulimits` entries (`name=soft:hard`, or `name=limit` for both) into
 * libpod `r_limits`, so a container created through the API gets what the CLI gets from the file.
 * Entries that do not parse are left out.
 *
 * @example
 * toLibpodUlimits(["nofile=1024:1024"]) // [{ type: "nofile", soft: 1024, hard: 1024 }]
 */
export function toLibpodUlimits(entries: readonly string[]): LibpodUlimit[] {
  return entries.flatMap((entry) => {
    const match = /^([a-z_]+)=(-?\d+)(?::(-?\d+))?$/.exec(entry.trim());
    if (match === null) return [];
    const soft = Number(match[2]);
    const hard = match[3] === undefined ? soft : Number(match[3]);
    return [{ type: match[1] ?? "", soft, hard }];
  });
}

/**
 * The libpod create body for a request, with exactly the semantics of the CLI argv
 * (`renderCreateArgs("podman", …)`): loopback-only ports, `--cpus` as a CFS quota over a 100 ms
 * period, memory in whole MiB, the pids limit, GPUs as the same `--device` values (NVIDIA as CDI
 * names, AMD as `/dev/kfd` plus render nodes), bind mounts, every capability dropped,
 * no-new-privileges, privileged only when asked, and the given ulimits. The image is never pulled
 * by create (the API does not pull on create).
 *
 * @example
 * renderLibpodSpec(request, { ulimits: toLibpodUlimits(["nofile=1024:1024"]) }).cap_drop // ["ALL"]
 */
export function renderLibpodSpec(
  request: ContainerCreateRequest,
  options: {
    readonly ulimits: readonly LibpodUlimit[];
    readonly createCommand?: readonly string[];
  },
): LibpodSpec {
  const gpuArgs = renderGpuArgs("podman", request.gpus);
  const devices = gpuArgs.flatMap((arg, index) =>
    gpuArgs[index - 1] === "--device" ? [{ path: arg }] : [],
  );
  // Same rounding as the CLI argv (three decimals of a CPU), then as podman turns it into a quota.
  const cpus = Math.round(request.cpus * 1000) / 1000;
  const labels: Record<string, string> = {};
  for (const key of Object.keys(request.labels).sort()) labels[key] = request.labels[key] ?? "";
  return {
    name: request.name,
    image: request.image,
    labels,
    env: { ...request.env },
    ...(request.args !== undefined ? { command: [...request.args] } : {}),
    ...(request.working_dir !== undefined ? { work_dir: request.working_dir } : {}),
    ...(request.user !== undefined ? { user: request.user } : {}),
    portmappings: request.ports.map((port) => ({
      host_ip: "127.0.0.1",
      host_port: port.host_port ?? 0,
      container_port: port.container_port,
      protocol: "tcp",
    })),
    resource_limits: {
      cpu: { quota: Math.round(cpus * CPU_PERIOD_US), period: CPU_PERIOD_US },
      memory: { limit: Math.floor(request.memory_mib) * 1024 * 1024 },
      pids: { limit: request.pids_limit },
    },
    devices,
    mounts: request.mounts.map((mount) => ({
      type: "bind",
      source: mount.source,
      destination: mount.target,
      options: mount.read_only ? ["rbind", "ro"] : ["rbind"],
    })),
    cap_drop: ["ALL"],
    no_new_privileges: true,
    privileged: request.privileged,
    r_limits: options.ulimits.map((limit) => ({ ...limit })),
    terminal: false,
    sdnotifyMode: "container",
    ...(options.createCommand !== undefined
      ? { containerCreateCommand: [...options.createCommand] }
      : {}),
  };
}
