import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { CliRuntime, type CliRuntimeOptions } from "./cli-runtime.js";
import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import { normalizeArchitecture } from "./parse-runtime-json.js";
import { registryOfImage } from "./registry-auth.js";

/** The containers.conf settings the agent owns (ENVIRONMENT.md: runc, lower ulimits). */
export interface ContainersConfSettings {
  /** OCI runtime podman uses; `runc` where crun cannot run (hybrid cgroups). */
  readonly runtime?: string;
  /** `default_ulimits`, e.g. `["nofile=1024:1024", "nproc=1000:1000"]`. */
  readonly defaultUlimits?: readonly string[];
}

/** Options of the podman driver. */
export interface PodmanRuntimeOptions extends CliRuntimeOptions {
  /**
   * A containers.conf the driver writes (once, before its first command) and points
   * `CONTAINERS_CONF` at, so the agent's podman settings do not depend on the host's files.
   */
  readonly containersConf?: { readonly path: string } & ContainersConfSettings;
  /**
   * Registries (`host:port`) pulled over plain HTTP (`--tls-verify=false`). Loopback only: any
   * other host is refused when the driver is created.
   */
  readonly plainHttpRegistries?: readonly string[];
}

/** The settings the agent uses for podman on hosts like the ones in ENVIRONMENT.md. */
export const DEFAULT_CONTAINERS_CONF: Required<ContainersConfSettings> = {
  runtime: "runc",
  defaultUlimits: ["nofile=1024:1024", "nproc=1000:1000"],
};

function tomlString(value: string): string {
  return JSON.stringify(value);
}

/**
 * Renders the agent's containers.conf.
 *
 * @example
 * renderContainersConf({ runtime: "runc" }) // '[engine]\nruntime = "runc"\n'
 */
export function renderContainersConf(settings: ContainersConfSettings): string {
  const lines: string[] = [];
  if (settings.defaultUlimits !== undefined) {
    lines.push("[containers]");
    lines.push(`default_ulimits = [${settings.defaultUlimits.map(tomlString).join(", ")}]`);
    lines.push("");
  }
  if (settings.runtime !== undefined) {
    lines.push("[engine]");
    lines.push(`runtime = ${tomlString(settings.runtime)}`);
    lines.push("");
  }
  return lines.join("\n");
}

/** Writes the agent's containers.conf unless the file already says exactly that. */
export async function writeContainersConf(
  conf: { readonly path: string } & ContainersConfSettings,
): Promise<void> {
  const content = renderContainersConf(conf);
  const current = await readFile(conf.path, "utf8").catch(() => undefined);
  if (current === content) return;
  await mkdir(dirname(conf.path), { recursive: true });
  await writeFile(conf.path, content, { mode: 0o644 });
}

/** True for a `host[:port]` on the loopback interface. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(1, registry.indexOf("]"))
    : (registry.split(":")[0] ?? "");
  return host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
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

/** Reads `podman version --format json` and `podman info --format json`. */
export function toPodmanProbe(version: unknown, info: unknown): Partial<RuntimeProbe> {
  const client = obj(obj(version).Client);
  const server = obj(obj(version).Server);
  const host = obj(obj(info).host);
  const clientVersion = str(client.Version);
  const serverVersion = str(obj(obj(info).version).Version) ?? str(server.Version);
  const ociRuntime = str(obj(host.ociRuntime).name);
  const cgroupVersion = str(host.cgroupVersion);
  const storageRoot = str(obj(obj(info).store).graphRoot);
  const arch = str(host.arch);
  const rootless = obj(host.security).rootless;
  return {
    ...(clientVersion !== undefined ? { client_version: clientVersion } : {}),
    ...(serverVersion !== undefined ? { server_version: serverVersion } : {}),
    ...(typeof rootless === "boolean" ? { rootless } : {}),
    ...(ociRuntime !== undefined ? { oci_runtime: ociRuntime } : {}),
    ...(cgroupVersion !== undefined ? { cgroup_version: cgroupVersion } : {}),
    ...(storageRoot !== undefined ? { storage_root: storageRoot } : {}),
    ...(arch !== undefined ? { architecture: normalizeArchitecture(arch) } : {}),
  };
}

/**
 * The podman driver: the podman CLI with JSON output, GPUs through CDI, pulls with `--authfile`.
 *
 * @example
 * createPodmanRuntime({ containersConf: { path: "/run/gpuaas/containers.conf", ...DEFAULT_CONTAINERS_CONF } })
 */
export function createPodmanRuntime(options: PodmanRuntimeOptions = {}): ContainerRuntime {
  const plainHttp = new Set(options.plainHttpRegistries ?? []);
  for (const registry of plainHttp) {
    if (!isLoopbackRegistry(registry)) {
      throw new Error(`plain HTTP is allowed only for loopback registries, not ${registry}`);
    }
  }
  const conf = options.containersConf;
  const env: Record<string, string> = { ...options.env };
  if (conf !== undefined) env.CONTAINERS_CONF = conf.path;
  return new CliRuntime(
    {
      name: "podman",
      versionArgs: ["version", "--format", "json"],
      infoArgs: ["info", "--format", "json"],
      toProbe: toPodmanProbe,
      pull(image, authDir) {
        const args = ["pull", "--quiet"];
        if (authDir !== undefined) args.push("--authfile", `${authDir}/config.json`);
        if (plainHttp.has(registryOfImage(image))) args.push("--tls-verify=false");
        args.push(image);
        return { args, env: {} };
      },
      psFormat: "json",
      inspectArgs: ["container", "inspect"],
      removeArgs: ["rm", "--force", "--volumes", "--time", "0"],
      async prepare() {
        if (conf !== undefined) await writeContainersConf(conf);
      },
    },
    { ...options, env },
  );
}
