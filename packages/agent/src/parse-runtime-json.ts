import type {
  ContainerDetails,
  ContainerState,
  ImageDetails,
  PublishedPort,
} from "./container-runtime.js";

// Runtimes differ in shape and add fields between versions (execution.md §1.3): every reader here
// is lenient, takes unknown JSON and keeps only what it can type.

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function obj(value: unknown): Json {
  return isObject(value) ? value : {};
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value)) return Number(value);
  return null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item) => typeof item === "string") : [];
}

/** Parses a JSON document that may be one array, one object, or one object per line. */
export function parseJsonDocuments(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.length === 0) return [];
  try {
    const parsed: unknown = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return trimmed
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0)
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as unknown];
        } catch {
          return [];
        }
      });
  }
}

/** The container ids of `ps --format json` output (podman: an array; docker/nerdctl: lines). */
export function parsePsIds(text: string): string[] {
  return parseJsonDocuments(text).flatMap((entry) => {
    const record = obj(entry);
    const id = str(record.Id) ?? str(record.ID) ?? str(record.id);
    return id !== undefined && id.length > 0 ? [id] : [];
  });
}

const STATES: readonly ContainerState[] = [
  "created",
  "running",
  "paused",
  "restarting",
  "exited",
  "dead",
];

function toState(status: string | undefined, running: boolean): ContainerState {
  const lower = status?.toLowerCase();
  if (lower === "configured" || lower === "initialized") return "created";
  if (lower === "stopped") return "exited";
  const known = STATES.find((state) => state === lower);
  if (known !== undefined) return known;
  return running ? "running" : "unknown";
}

/** `NetworkSettings.Ports` (`{"8080/tcp": [{HostIp, HostPort}]}`), the same for docker and podman. */
function toPorts(value: unknown): PublishedPort[] {
  const ports: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(obj(value))) {
    const [portText, protocol = "tcp"] = key.split("/");
    const containerPort = num(portText);
    if (containerPort === null || !Array.isArray(bindings)) continue;
    for (const binding of bindings) {
      const record = obj(binding);
      const hostPort = num(record.HostPort);
      if (hostPort === null || hostPort === 0) continue;
      ports.push({
        container_port: containerPort,
        protocol,
        host_ip: str(record.HostIp) ?? "",
        host_port: hostPort,
      });
    }
  }
  return ports.sort((a, b) => a.container_port - b.container_port || a.host_port - b.host_port);
}

function toLabels(value: unknown): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, item] of Object.entries(obj(value))) {
    if (typeof item === "string") labels[key] = item;
  }
  return labels;
}

/**
 * Normalises one element of `container inspect` output (docker, podman, nerdctl `dockercompat`).
 *
 * @example
 * toContainerDetails(JSON.parse(stdout)[0]).state // "running"
 */
export function toContainerDetails(raw: unknown): ContainerDetails | undefined {
  const record = obj(raw);
  const id = str(record.Id) ?? str(record.ID);
  if (id === undefined) return undefined;
  const state = obj(record.State);
  const config = obj(record.Config);
  const hostConfig = obj(record.HostConfig);
  const running = state.Running === true;
  const error = str(state.Error);
  const startedAt = str(state.StartedAt);
  const finishedAt = str(state.FinishedAt);
  return {
    id,
    name: (str(record.Name) ?? "").replace(/^\//, ""),
    image: str(record.ImageName) ?? str(config.Image) ?? str(record.Image) ?? "",
    state: toState(str(state.Status), running),
    running,
    exit_code: num(state.ExitCode),
    oom_killed: state.OOMKilled === true,
    ...(startedAt !== undefined ? { started_at: startedAt } : {}),
    ...(finishedAt !== undefined ? { finished_at: finishedAt } : {}),
    labels: toLabels(config.Labels),
    ports: toPorts(obj(record.NetworkSettings).Ports),
    ...(error !== undefined && error.length > 0 ? { error } : {}),
    host_config: {
      privileged: hostConfig.Privileged === true,
      cap_drop: strings(hostConfig.CapDrop),
      security_opt: strings(hostConfig.SecurityOpt),
      memory_bytes: num(hostConfig.Memory),
      nano_cpus: num(hostConfig.NanoCpus),
      pids_limit: num(hostConfig.PidsLimit),
    },
  };
}

/** The architecture names runtimes use, normalised to the contract's (`amd64`, `arm64`). */
export function normalizeArchitecture(arch: string): string {
  const lower = arch.toLowerCase();
  if (lower === "x86_64" || lower === "x64" || lower === "amd64") return "amd64";
  if (lower === "aarch64" || lower === "arm64") return "arm64";
  return lower;
}

/** Normalises one element of `image inspect` output. */
export function toImageDetails(raw: unknown): ImageDetails | undefined {
  const record = obj(raw);
  const id = str(record.Id) ?? str(record.ID);
  if (id === undefined) return undefined;
  const variant = str(record.Variant);
  const size = num(record.Size);
  return {
    id,
    architecture: normalizeArchitecture(str(record.Architecture) ?? ""),
    os: str(record.Os) ?? "",
    ...(variant !== undefined && variant.length > 0 ? { variant } : {}),
    ...(size !== null ? { size_bytes: size } : {}),
  };
}
