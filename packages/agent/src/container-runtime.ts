/** The container runtimes the agent drives, in order of preference. */
export const RUNTIME_NAMES = ["podman", "docker", "nerdctl"] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** What a non-mutating look at a runtime found (`version` and `info`, nothing else). */
export interface RuntimeProbe {
  readonly name: RuntimeName;
  /** The program the driver runs, as configured (a name on PATH or an absolute path). */
  readonly binary: string;
  readonly present: boolean;
  /** The runtime answered `info` (for docker: the daemon is reachable). */
  readonly answering: boolean;
  readonly client_version?: string;
  readonly server_version?: string;
  readonly rootless?: boolean;
  readonly oci_runtime?: string;
  readonly cgroup_version?: string;
  /** Where the runtime keeps images (podman graphRoot, docker DockerRootDir). */
  readonly storage_root?: string;
  /** Host architecture as the runtime reports it, normalised (`amd64`, `arm64`). */
  readonly architecture?: string;
  /** docker only: the daemon has an `nvidia` runtime registered. */
  readonly nvidia_runtime?: boolean;
  /** docker only: CDI spec directories the daemon was configured with. */
  readonly cdi_spec_dirs?: readonly string[];
  /** docker only: the "docker" socket is really podman's compat API, which drops GPU requests. */
  readonly podman_backend?: boolean;
  /** Why the runtime is absent or not answering, redacted and bounded. */
  readonly problem?: string;
}

/** One published port as the runtime reports it. */
export interface PublishedPort {
  readonly container_port: number;
  readonly protocol: string;
  readonly host_ip: string;
  readonly host_port: number;
}

/** The lifecycle state of a container, normalised across runtimes. */
export type ContainerState =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "exited"
  | "dead"
  | "unknown";

/** A container as the agent sees it, from `inspect`, the same shape for every runtime. */
export interface ContainerDetails {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly state: ContainerState;
  readonly running: boolean;
  readonly exit_code: number | null;
  readonly oom_killed: boolean;
  readonly started_at?: string;
  readonly finished_at?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly PublishedPort[];
  /** The runtime's error text for a container that failed to start. */
  readonly error?: string;
  /** Security-relevant settings read back, so a test or an audit can compare them with the spec. */
  readonly host_config: {
    readonly privileged: boolean;
    readonly cap_drop: readonly string[];
    readonly security_opt: readonly string[];
    readonly memory_bytes: number | null;
    readonly nano_cpus: number | null;
    readonly pids_limit: number | null;
  };
}

/** An image as `image inspect` reports it. */
export interface ImageDetails {
  readonly id: string;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly size_bytes?: number;
}

/** The GPUs a container gets, by device index on the host. */
export interface GpuRequest {
  readonly vendor: "none" | "nvidia" | "amd";
  readonly indices: readonly number[];
}

/** A bind mount whose source the agent derived and created; never a user-supplied path. */
export interface BindMount {
  readonly source: string;
  readonly target: string;
  readonly read_only: boolean;
}

/** Everything `create` needs, already checked and with host paths resolved. */
export interface ContainerCreateRequest {
  readonly name: string;
  /** `registry/repository@sha256:…` */
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly working_dir?: string;
  readonly user?: string;
  readonly ports: readonly { readonly container_port: number; readonly host_port?: number }[];
  readonly cpus: number;
  readonly memory_mib: number;
  readonly pids_limit: number;
  readonly gpus: GpuRequest;
  readonly mounts: readonly BindMount[];
  readonly privileged: boolean;
}

/** The outcome of a command run inside a container. */
export interface ExecResult {
  readonly exit_code: number | null;
  /** stdout then stderr, bounded. */
  readonly output: string;
  readonly timed_out: boolean;
  readonly truncated: boolean;
}

/**
 * The port every runtime driver implements. Methods that change something throw a
 * {@link RuntimeCommandError} when the runtime refuses; lookups return `undefined` for "absent".
 */
export interface ContainerRuntime {
  readonly name: RuntimeName;
  /** Version and info only: changes nothing on the host. */
  probe(): Promise<RuntimeProbe>;
  /** Pulls an image by digest; `authDir` holds a `config.json` registry auth file. */
  pullImage(image: string, options: { readonly authDir?: string }): Promise<void>;
  inspectImage(image: string): Promise<ImageDetails | undefined>;
  /** Creates (does not start) a container and returns its id. */
  createContainer(request: ContainerCreateRequest): Promise<string>;
  startContainer(name: string): Promise<void>;
  stopContainer(name: string, timeoutSeconds: number): Promise<void>;
  restartContainer(name: string, timeoutSeconds: number): Promise<void>;
  /** Removes a container at once (killing it if running); false when there was none. */
  removeContainer(name: string): Promise<boolean>;
  inspectContainer(name: string): Promise<ContainerDetails | undefined>;
  /** Containers carrying every given label, running or not. */
  listContainers(labels: Readonly<Record<string, string>>): Promise<ContainerDetails[]>;
  /** The last `tail` lines of a container's output (stdout and stderr), bounded in bytes. */
  readLogs(name: string, tail: number): Promise<string>;
  exec(name: string, argv: readonly string[], timeoutMs: number): Promise<ExecResult>;
  /** The exact argv `createContainer` runs, for audit and tests. */
  renderCreateArgs(request: ContainerCreateRequest): string[];
}

/** Why a runtime command failed, classified so callers can pick a stable code. */
export type RuntimeFailureKind =
  | "not_found"
  | "unauthorized"
  | "manifest_unknown"
  | "timeout"
  | "missing_binary"
  | "failed";

/** A runtime command that did not succeed. The message never contains argv values or secrets. */
export class RuntimeCommandError extends Error {
  override readonly name = "RuntimeCommandError";
  constructor(
    readonly operation: string,
    readonly kind: RuntimeFailureKind,
    readonly exitCode: number | null,
    /** Bounded stderr of the runtime (redact before showing it). */
    readonly stderr: string,
  ) {
    super(`${operation} failed (${kind}${exitCode !== null ? `, exit ${exitCode}` : ""})`);
  }
}
