import { isAbsolute, normalize } from "node:path";
import { DEFAULT_CDI_DIRS } from "./gpu-inventory.js";
import { normalizeArchitecture } from "./parse-runtime-json.js";
import { MAX_SOCKET_PATH_BYTES } from "./podman-service.js";

/** The agent's host-side settings. Paths here are operator configuration, never task input. */
export interface AgentConfig {
  /** Scratch mounts live at `<workloadsRoot>/<instance_id>/<mount name>`. */
  readonly workloadsRoot: string;
  /** Project storage mounts live at `<projectStorageRoot>/<project_id>/<mount name>`. */
  readonly projectStorageRoot: string;
  /** Where private per-pull auth directories are made (prefer a tmpfs such as `/run`). */
  readonly secretsDir: string;
  /** The package index for `python_packages` (`--index-url`); absent refuses package installs. */
  readonly pipIndexUrl?: string;
  /** User name sent with a pull token when the credential carries none. */
  readonly registryUsername: string;
  /** Host directories under which an approved profile's `host_mounts` may point; empty: none. */
  readonly hostMountRoots: readonly string[];
  /** Free bytes required on the workloads root and the runtime's image store. */
  readonly minFreeDiskBytes: number;
  /** The host's CPU architecture as image platforms name it (`amd64`, `arm64`). */
  readonly hostArchitecture: string;
  /** Written on every container as `dev.gpuaas.node`; `rebuildState` lists only these when set. */
  readonly nodeId?: string;
  readonly cdiDirs: readonly string[];
  readonly devRoot: string;
  readonly pullTimeoutSeconds: number;
  /**
   * How long a launch may rely on the last answering runtime probe (`version` + `info`, refreshed
   * by every heartbeat's status) instead of asking the runtime again; 0 probes on every launch.
   */
  readonly probeCacheSeconds: number;
  /** Grace period (SIGTERM, then SIGKILL) before a container is removed or replaced. */
  readonly stopTimeoutSeconds: number;
  readonly pipTimeoutSeconds: number;
  /** Bytes of a log or package-install excerpt in a task result. */
  readonly excerptBytes: number;
  /** Most lines and bytes `readLogs` returns. */
  readonly maxLogTail: number;
  readonly maxLogBytes: number;
  /**
   * How the agent drives podman: `api`, the libpod REST API on a unix socket (a request per step,
   * the CLI as fallback when the API is not there), or `cli`, one podman process per step.
   */
  readonly podmanDriver: "api" | "cli";
  /**
   * An existing libpod socket to use instead of starting the agent's own
   * `podman system service` (`podmanDriver: "api"` only).
   */
  readonly podmanSocket?: string;
}

/** What a caller may set; everything else has a default. */
export type AgentConfigInput = Partial<AgentConfig> &
  Pick<AgentConfig, "workloadsRoot" | "projectStorageRoot" | "secretsDir">;

/** One problem with the configuration, with a JSON pointer to the field. */
export interface ConfigIssue {
  readonly pointer: string;
  readonly message: string;
}

/** The defaults of every optional setting. */
export const AGENT_CONFIG_DEFAULTS = {
  registryUsername: "gpuaas",
  hostMountRoots: [] as readonly string[],
  minFreeDiskBytes: 2 * 1024 ** 3,
  cdiDirs: DEFAULT_CDI_DIRS as readonly string[],
  devRoot: "/dev",
  pullTimeoutSeconds: 900,
  probeCacheSeconds: 30,
  stopTimeoutSeconds: 10,
  pipTimeoutSeconds: 600,
  excerptBytes: 4096,
  maxLogTail: 10_000,
  maxLogBytes: 256 * 1024,
  podmanDriver: "api",
} as const;

function isCleanAbsolute(path: string): boolean {
  return isAbsolute(path) && normalize(path) === path && !path.includes("\0");
}

/**
 * Validates the configuration and fills in defaults, reporting every problem at once; the result
 * is frozen. `hostArch` is the Node `process.arch` of the host (passed in, not read).
 *
 * @example
 * loadAgentConfig({ workloadsRoot: "/var/lib/gpuaas/workloads", projectStorageRoot: "/srv/projects", secretsDir: "/run/gpuaas" }, "x64")
 */
export function loadAgentConfig(
  input: AgentConfigInput,
  hostArch: string,
): { config?: Readonly<AgentConfig>; issues: ConfigIssue[] } {
  const config: AgentConfig = {
    ...AGENT_CONFIG_DEFAULTS,
    hostArchitecture: normalizeArchitecture(hostArch),
    ...input,
  };
  const issues: ConfigIssue[] = [];
  for (const key of ["workloadsRoot", "projectStorageRoot", "secretsDir", "devRoot"] as const) {
    if (!isCleanAbsolute(config[key])) {
      issues.push({ pointer: `/${key}`, message: `${key} must be an absolute, normalised path` });
    }
  }
  config.hostMountRoots.forEach((root, index) => {
    if (!isCleanAbsolute(root) || root === "/") {
      issues.push({
        pointer: `/hostMountRoots/${index}`,
        message: "a host mount root must be an absolute, normalised path other than /",
      });
    }
  });
  config.cdiDirs.forEach((dir, index) => {
    if (!isCleanAbsolute(dir)) {
      issues.push({ pointer: `/cdiDirs/${index}`, message: "must be an absolute path" });
    }
  });
  if (config.pipIndexUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(config.pipIndexUrl);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      issues.push({ pointer: "/pipIndexUrl", message: "pipIndexUrl must be an http(s) URL" });
    }
  }
  if (config.podmanDriver !== "api" && config.podmanDriver !== "cli") {
    issues.push({ pointer: "/podmanDriver", message: "podmanDriver must be api or cli" });
  }
  if (config.podmanSocket !== undefined) {
    if (!isCleanAbsolute(config.podmanSocket)) {
      issues.push({
        pointer: "/podmanSocket",
        message: "podmanSocket must be an absolute, normalised path",
      });
    } else if (Buffer.byteLength(config.podmanSocket) > MAX_SOCKET_PATH_BYTES) {
      issues.push({
        pointer: "/podmanSocket",
        message: `podmanSocket must be at most ${MAX_SOCKET_PATH_BYTES} bytes (a unix socket path)`,
      });
    }
    if (config.podmanDriver === "cli") {
      issues.push({
        pointer: "/podmanSocket",
        message: "podmanSocket is used only with podmanDriver api",
      });
    }
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(config.registryUsername)) {
    issues.push({
      pointer: "/registryUsername",
      message: "registryUsername must be 1-64 letters, digits, '.', '_' or '-'",
    });
  }
  if (config.nodeId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(config.nodeId)) {
    issues.push({
      pointer: "/nodeId",
      message: "nodeId must be 1-128 letters, digits, '.', '_' or '-'",
    });
  }
  const positive = [
    "minFreeDiskBytes",
    "pullTimeoutSeconds",
    "stopTimeoutSeconds",
    "pipTimeoutSeconds",
    "probeCacheSeconds",
    "excerptBytes",
    "maxLogTail",
    "maxLogBytes",
  ] as const;
  for (const key of positive) {
    const value = config[key];
    if (
      !Number.isFinite(value) ||
      value <
        (key === "minFreeDiskBytes" || key === "stopTimeoutSeconds" || key === "probeCacheSeconds"
          ? 0
          : 1)
    ) {
      issues.push({ pointer: `/${key}`, message: `${key} must be a positive number` });
    }
  }
  if (issues.length > 0) return { issues };
  return {
    config: Object.freeze({
      ...config,
      hostMountRoots: Object.freeze([...config.hostMountRoots]),
      cdiDirs: Object.freeze([...config.cdiDirs]),
    }),
    issues,
  };
}
