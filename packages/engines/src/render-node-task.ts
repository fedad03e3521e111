import { expandPlaceholders, type InstanceState } from "@gpuaas/contract";
import type { AdapterInput } from "./adapter-input.js";

/** The node-agent task kinds of the seed's catalogue that the OCI container adapter uses. */
export const NODE_TASK_KINDS = [
  "workload.oci_runtime_status",
  "workload.oci_launch",
  "workload.oci_control",
  "workload.oci_remove",
] as const;
export type NodeTaskKind = (typeof NODE_TASK_KINDS)[number];

/** Prefix of every label the platform puts on a container. */
export const LABEL_PREFIX = "dev.gpuaas";
/** Processes one container may run unless the profile says otherwise. */
export const DEFAULT_PIDS_LIMIT = 4096;

/** One published port: always on the host's loopback address, never on a public interface. */
export interface PortBinding {
  readonly endpoint: string;
  readonly container_port: number;
  readonly host_ip: "127.0.0.1";
  /** Absent: the runtime picks a free port and the agent reports it. */
  readonly host_port?: number;
  readonly protocol: "tcp";
}

/** A workload mount; the agent derives the host directory from the mode, never from user input. */
export interface WorkloadMount {
  readonly name: string;
  readonly target: string;
  readonly mode: "scratch" | "project_storage";
  readonly read_only: boolean;
}

/** What `workload.oci_launch` asks the agent to run. Contains no credential. */
export interface OciLaunchSpec {
  readonly kind: "workload.oci_launch";
  readonly spec_version: 1;
  readonly identity: AdapterInput["identity"];
  readonly allocation_id: string;
  /**
   * The allocation's GPU mask (host device indices it may use): the agent refuses a request for a
   * GPU outside it (`preflight.gpu_outside_mask`) before touching the host.
   */
  readonly gpu_mask: readonly number[];
  readonly container: {
    readonly name: string;
    /** `registry/repository@sha256:…`: by digest, always. */
    readonly image: string;
    readonly registry: string;
    readonly repository: string;
    readonly digest: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly env: Readonly<Record<string, string>>;
    /** Passed to the runtime after the image as argv; absent keeps the image's command. */
    readonly args?: readonly string[];
    readonly working_dir?: string;
    readonly user?: string;
    readonly ports: readonly PortBinding[];
    readonly resources: {
      readonly cpus: number;
      readonly memory_mib: number;
      readonly pids_limit: number;
    };
    readonly gpus: { readonly vendor: string; readonly indices: readonly number[] };
    readonly mounts: readonly WorkloadMount[];
    readonly security: {
      readonly cap_drop: readonly ["ALL"];
      readonly no_new_privileges: true;
      readonly privileged: boolean;
      readonly host_mounts: readonly {
        readonly host_path: string;
        readonly path: string;
        readonly read_only: boolean;
      }[];
    };
  };
  readonly python_packages: readonly string[];
  readonly readiness: readonly {
    readonly name: string;
    readonly type: "http" | "tcp";
    readonly endpoint: string;
    readonly path: string;
    readonly expect_status: readonly number[];
    readonly timeout_seconds: number;
    readonly interval_seconds: number;
  }[];
}

/** What `workload.oci_control` asks: stop, start or restart the instance's container. */
export interface OciControlSpec {
  readonly kind: "workload.oci_control";
  readonly spec_version: 1;
  readonly identity: AdapterInput["identity"];
  readonly container_name: string;
  readonly action: "stop" | "start" | "restart";
  readonly stop_timeout_seconds: number;
}

/** What `workload.oci_remove` asks: delete the container and its scratch space, keep project storage. */
export interface OciRemoveSpec {
  readonly kind: "workload.oci_remove";
  readonly spec_version: 1;
  readonly identity: AdapterInput["identity"];
  readonly container_name: string;
  readonly remove_scratch: true;
}

/** Any node task spec. */
export type NodeTaskSpec = OciLaunchSpec | OciControlSpec | OciRemoveSpec;

/** The deterministic container name of an instance, so a repeated task finds what it made. */
export function toContainerName(instanceId: string): string {
  return `gpuaas-${instanceId}`;
}

/** The labels that let an agent rebuild its state from the runtime after a restart. */
export function toContainerLabels(input: AdapterInput): Record<string, string> {
  return {
    [`${LABEL_PREFIX}.managed`]: "true",
    [`${LABEL_PREFIX}.project`]: input.identity.project_id,
    [`${LABEL_PREFIX}.instance`]: input.identity.instance_id,
    [`${LABEL_PREFIX}.generation`]: String(input.identity.generation),
    [`${LABEL_PREFIX}.correlation-id`]: input.identity.correlation_id,
    [`${LABEL_PREFIX}.app`]: input.launch.app_slug,
    [`${LABEL_PREFIX}.app-version`]: input.launch.app_version,
    [`${LABEL_PREFIX}.allocation`]: input.placement.allocation_id,
  };
}

/**
 * Renders the `workload.oci_launch` spec for the node-agent OCI container adapter: the image by
 * digest, deterministic name and labels, loopback-only ports, resource limits, GPUs by index from
 * the allocation's mask, env and argv from the manifest with `${param}` placeholders expanded,
 * workload mounts, and a hardened security profile. Pure: the same input gives the same spec.
 */
export function renderOciLaunch(input: AdapterInput): OciLaunchSpec {
  const { profile, launch, artifact } = input;
  const values = { ...launch.config, ...launch.resources };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(profile.execution.container_env ?? {})) {
    env[key] = expandPlaceholders(value, values);
  }
  const args = profile.execution.command_args?.map((arg) => expandPlaceholders(arg, values));
  const ports = launch.endpoints.map(
    (endpoint): PortBinding => ({
      endpoint: endpoint.name,
      container_port: endpoint.port,
      host_ip: "127.0.0.1",
      ...(endpoint.host_port !== undefined ? { host_port: endpoint.host_port } : {}),
      protocol: "tcp",
    }),
  );
  return {
    kind: "workload.oci_launch",
    spec_version: 1,
    identity: input.identity,
    allocation_id: input.placement.allocation_id,
    gpu_mask: [...input.placement.gpu_mask].sort((a, b) => a - b),
    container: {
      name: toContainerName(input.identity.instance_id),
      image: `${artifact.registry}/${artifact.repository}@${artifact.digest}`,
      registry: artifact.registry,
      repository: artifact.repository,
      digest: artifact.digest,
      labels: toContainerLabels(input),
      env,
      ...(args !== undefined ? { args } : {}),
      ...(profile.execution.working_dir !== undefined
        ? { working_dir: profile.execution.working_dir }
        : {}),
      ...(profile.execution.user !== undefined ? { user: profile.execution.user } : {}),
      ports,
      resources: {
        cpus: launch.resources.cpu_cores,
        memory_mib: launch.resources.memory_gib * 1024,
        pids_limit: DEFAULT_PIDS_LIMIT,
      },
      gpus: {
        vendor: launch.resources.gpu_count > 0 ? input.placement.accelerator_vendor : "none",
        indices: launch.resources.gpu_count > 0 ? [...input.placement.gpu_indices] : [],
      },
      mounts: launch.storage.map((mount) => ({
        name: mount.name,
        target: mount.path,
        mode: mount.mode,
        read_only: false,
      })),
      security: {
        cap_drop: ["ALL"],
        no_new_privileges: true,
        privileged: profile.security.privileged === true,
        host_mounts: (profile.security.host_mounts ?? []).map((mount) => ({
          host_path: mount.host_path,
          path: mount.path,
          read_only: mount.read_only ?? true,
        })),
      },
    },
    python_packages: launch.python_packages,
    readiness: profile.validation.readiness.map((probe) => ({
      name: probe.name,
      type: probe.type,
      endpoint: probe.endpoint,
      path: probe.path ?? "/",
      expect_status: probe.expect_status ?? [200],
      timeout_seconds: probe.timeout_seconds ?? 300,
      interval_seconds: probe.interval_seconds ?? 2,
    })),
  };
}

/** Renders a stop/start/restart task for an instance's container. */
export function renderOciControl(
  identity: AdapterInput["identity"],
  action: OciControlSpec["action"],
): OciControlSpec {
  return {
    kind: "workload.oci_control",
    spec_version: 1,
    identity,
    container_name: toContainerName(identity.instance_id),
    action,
    stop_timeout_seconds: 10,
  };
}

/** Renders the task that removes an instance's container and scratch space. */
export function renderOciRemove(identity: AdapterInput["identity"]): OciRemoveSpec {
  return {
    kind: "workload.oci_remove",
    spec_version: 1,
    identity,
    container_name: toContainerName(identity.instance_id),
    remove_scratch: true,
  };
}

/** The lifecycle state an instance enters when a task of this kind is queued for it. */
export function toPendingState(spec: NodeTaskSpec): InstanceState {
  switch (spec.kind) {
    case "workload.oci_launch":
      return "deploying";
    case "workload.oci_remove":
      return "decommissioning";
    case "workload.oci_control":
      return spec.action === "stop"
        ? "stopping"
        : spec.action === "start"
          ? "starting"
          : "restarting";
  }
}
