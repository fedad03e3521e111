import { CliRuntime, type CliRuntimeOptions } from "./cli-runtime.js";
import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import { normalizeArchitecture } from "./parse-runtime-json.js";
import { isLoopbackRegistry } from "./podman-runtime.js";
import { registryOfImage } from "./registry-auth.js";

/** Options of the nerdctl driver. */
export interface NerdctlRuntimeOptions extends CliRuntimeOptions {
  /** containerd socket (`CONTAINERD_ADDRESS`). */
  readonly address?: string;
  /** containerd namespace (`CONTAINERD_NAMESPACE`); nerdctl's default is `default`. */
  readonly namespace?: string;
  /** Loopback registries pulled over plain HTTP (`--insecure-registry`). */
  readonly plainHttpRegistries?: readonly string[];
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

/** Reads `nerdctl version --format '{{json .}}'` and `nerdctl info --format '{{json .}}'`. */
export function toNerdctlProbe(version: unknown, info: unknown): Partial<RuntimeProbe> {
  const client = obj(obj(version).Client);
  const server = obj(obj(version).Server);
  const infoRecord = obj(info);
  const clientVersion = str(client.Version);
  const components = Array.isArray(server.Components) ? server.Components : [];
  const serverVersion = str(obj(components[0]).Version) ?? str(infoRecord.ServerVersion);
  const securityOptions = Array.isArray(infoRecord.SecurityOptions)
    ? infoRecord.SecurityOptions.filter((item): item is string => typeof item === "string")
    : [];
  const arch = str(infoRecord.Architecture);
  const cgroupVersion = str(infoRecord.CgroupVersion);
  const storageRoot = str(infoRecord.DockerRootDir);
  return {
    ...(clientVersion !== undefined ? { client_version: clientVersion } : {}),
    ...(serverVersion !== undefined ? { server_version: serverVersion } : {}),
    ...(info !== undefined
      ? { rootless: securityOptions.some((option) => option.includes("name=rootless")) }
      : {}),
    ...(cgroupVersion !== undefined ? { cgroup_version: cgroupVersion } : {}),
    ...(storageRoot !== undefined ? { storage_root: storageRoot } : {}),
    ...(arch !== undefined ? { architecture: normalizeArchitecture(arch) } : {}),
  };
}

/**
 * The nerdctl driver (containerd): docker-compatible flags, `inspect --mode=dockercompat`, pulls
 * with a private `DOCKER_CONFIG` directory. Used when nerdctl is the runtime present.
 */
export function createNerdctlRuntime(options: NerdctlRuntimeOptions = {}): ContainerRuntime {
  const plainHttp = new Set(options.plainHttpRegistries ?? []);
  for (const registry of plainHttp) {
    if (!isLoopbackRegistry(registry)) {
      throw new Error(`plain HTTP is allowed only for loopback registries, not ${registry}`);
    }
  }
  const env: Record<string, string> = { ...options.env };
  if (options.address !== undefined) env.CONTAINERD_ADDRESS = options.address;
  if (options.namespace !== undefined) env.CONTAINERD_NAMESPACE = options.namespace;
  return new CliRuntime(
    {
      name: "nerdctl",
      versionArgs: ["version", "--format", "{{json .}}"],
      infoArgs: ["info", "--format", "{{json .}}"],
      toProbe: toNerdctlProbe,
      pull(image, authDir) {
        const args = ["pull", "--quiet"];
        if (plainHttp.has(registryOfImage(image))) args.push("--insecure-registry");
        args.push(image);
        return { args, env: authDir !== undefined ? { DOCKER_CONFIG: authDir } : {} };
      },
      psFormat: "{{json .}}",
      inspectArgs: ["container", "inspect", "--mode=dockercompat"],
      removeArgs: ["rm", "--force", "--volumes"],
    },
    { ...options, env },
  );
}
