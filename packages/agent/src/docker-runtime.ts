import { CliRuntime, type CliRuntimeOptions } from "./cli-runtime.js";
import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import { normalizeArchitecture } from "./parse-runtime-json.js";

/** Options of the docker driver. */
export interface DockerRuntimeOptions extends CliRuntimeOptions {
  /** `DOCKER_HOST` for every command, e.g. `unix:///run/gpuaas/docker.sock`. */
  readonly host?: string;
}

type Json = Record<string, unknown>;
function obj(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}
function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Reads `docker version --format '{{json .}}'` and `docker info --format '{{json .}}'`. A server
 * component named "Podman Engine" means the socket is podman's compat API, which silently drops
 * GPU requests (execution.md §0.2), so GPU launches must be refused on it.
 */
export function toDockerProbe(version: unknown, info: unknown): Partial<RuntimeProbe> {
  const client = obj(obj(version).Client);
  const server = obj(obj(version).Server);
  const infoRecord = obj(info);
  const clientVersion = str(client.Version);
  const serverVersion = str(server.Version) ?? str(infoRecord.ServerVersion);
  const components = Array.isArray(server.Components) ? server.Components : [];
  const podmanBackend = components.some((component) =>
    /podman/i.test(str(obj(component).Name) ?? ""),
  );
  const securityOptions = Array.isArray(infoRecord.SecurityOptions)
    ? infoRecord.SecurityOptions.filter((item): item is string => typeof item === "string")
    : [];
  const runtimes = Object.keys(obj(infoRecord.Runtimes));
  const cdiDirs = Array.isArray(infoRecord.CDISpecDirs)
    ? infoRecord.CDISpecDirs.filter((item): item is string => typeof item === "string")
    : [];
  const storageRoot = str(infoRecord.DockerRootDir);
  const arch = str(infoRecord.Architecture);
  const cgroupVersion = str(infoRecord.CgroupVersion);
  const ociRuntime = str(infoRecord.DefaultRuntime);
  return {
    ...(clientVersion !== undefined ? { client_version: clientVersion } : {}),
    ...(serverVersion !== undefined ? { server_version: serverVersion } : {}),
    ...(info !== undefined
      ? {
          rootless: securityOptions.some((option) => option.includes("name=rootless")),
          nvidia_runtime: runtimes.includes("nvidia"),
          cdi_spec_dirs: cdiDirs,
        }
      : {}),
    ...(ociRuntime !== undefined ? { oci_runtime: ociRuntime } : {}),
    ...(cgroupVersion !== undefined ? { cgroup_version: cgroupVersion } : {}),
    ...(storageRoot !== undefined ? { storage_root: storageRoot } : {}),
    ...(arch !== undefined ? { architecture: normalizeArchitecture(arch) } : {}),
    ...(components.length > 0 ? { podman_backend: podmanBackend } : {}),
    ...(version !== undefined && Object.keys(server).length === 0 ? { answering: false } : {}),
  };
}

/**
 * The docker driver: the docker CLI with JSON output, GPUs with `--gpus "device=…"`, pulls with a
 * private `DOCKER_CONFIG` directory holding the per-task auth file.
 *
 * @example
 * createDockerRuntime({ host: "unix:///tmp/x/docker.sock" })
 */
export function createDockerRuntime(options: DockerRuntimeOptions = {}): ContainerRuntime {
  const env: Record<string, string> = { ...options.env };
  if (options.host !== undefined) env.DOCKER_HOST = options.host;
  return new CliRuntime(
    {
      name: "docker",
      versionArgs: ["version", "--format", "{{json .}}"],
      infoArgs: ["info", "--format", "{{json .}}"],
      toProbe: toDockerProbe,
      pull(image, authDir) {
        // dockerd treats 127.0.0.0/8 as an insecure (plain HTTP) registry by default.
        return {
          args: ["pull", "--quiet", image],
          env: authDir !== undefined ? { DOCKER_CONFIG: authDir } : {},
        };
      },
      psFormat: "json",
      inspectArgs: ["container", "inspect"],
      removeArgs: ["rm", "--force", "--volumes"],
    },
    { ...options, env },
  );
}
