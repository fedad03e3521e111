import { access, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type CommandRunner, findExecutable, runCommand } from "./run-command.js";

/** One NVIDIA GPU as `nvidia-smi --query-gpu` lists it. */
export interface NvidiaGpu {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  readonly memory_mib: number | null;
  readonly driver_version: string | null;
}

/** The result of parsing `nvidia-smi` CSV: the GPUs, and lines that could not be read. */
export interface NvidiaSmiParse {
  readonly gpus: readonly NvidiaGpu[];
  readonly problems: readonly { readonly line: number; readonly text: string }[];
}

/** The query the agent runs: fields in this order. */
export const NVIDIA_SMI_ARGS = [
  "--query-gpu=index,uuid,name,memory.total,driver_version",
  "--format=csv,noheader",
] as const;

function nullable(field: string): string | null {
  const value = field.trim();
  return value === "" ||
    /^\[(?:N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]$/i.test(value)
    ? null
    : value;
}

function toMib(field: string): number | null {
  const value = nullable(field);
  if (value === null) return null;
  const match = /^(\d+(?:\.\d+)?)\s*(MiB|GiB)?$/i.exec(value);
  if (match === null) return null;
  const amount = Number(match[1]);
  return match[2]?.toLowerCase() === "gib" ? Math.round(amount * 1024) : Math.round(amount);
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader`
 * (with or without `nounits`). The name is everything between the fixed fields, so a name with a
 * comma survives; `[N/A]` and `[Not Supported]` become null. nvidia-smi's text is not a stable
 * interface, so unreadable lines are reported rather than guessed.
 *
 * @example
 * parseNvidiaSmi("0, GPU-22b2…, NVIDIA H100 80GB HBM3, 81559 MiB, 550.54.15").gpus[0].memory_mib // 81559
 */
export function parseNvidiaSmi(text: string): NvidiaSmiParse {
  const gpus: NvidiaGpu[] = [];
  const problems: { line: number; text: string }[] = [];
  text.split(/\r?\n/).forEach((raw, lineIndex) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const fields = line.split(",");
    const index = Number(fields[0]?.trim());
    if (fields.length < 5 || !Number.isInteger(index) || index < 0) {
      problems.push({ line: lineIndex + 1, text: line.slice(0, 200) });
      return;
    }
    const uuid = fields[1]?.trim() ?? "";
    const driver = fields[fields.length - 1] ?? "";
    const memory = fields[fields.length - 2] ?? "";
    const name = fields.slice(2, -2).join(",").trim();
    gpus.push({
      index,
      uuid,
      name,
      memory_mib: toMib(memory),
      driver_version: nullable(driver),
    });
  });
  return { gpus: gpus.sort((a, b) => a.index - b.index), problems };
}

/** The AMD devices a host exposes to containers. */
export interface AmdDevices {
  /** `/dev/kfd` (the ROCm compute interface) exists. */
  readonly kfd: boolean;
  /** GPU indices derived from `/dev/dri/renderD<128+N>`. */
  readonly indices: readonly number[];
}

/**
 * Looks for `<devRoot>/kfd` and `<devRoot>/dri/renderD*`. Takes the directory as an argument so a
 * test can point it at a fixture tree.
 */
export async function findAmdDevices(devRoot = "/dev"): Promise<AmdDevices> {
  const kfd = await access(join(devRoot, "kfd")).then(
    () => true,
    () => false,
  );
  const names = await readdir(join(devRoot, "dri")).catch(() => [] as string[]);
  const indices = names
    .map((name) => /^renderD(\d+)$/.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => Number(match[1]) - 128)
    .filter((index) => index >= 0)
    .sort((a, b) => a - b);
  return { kfd, indices };
}

/** One CDI spec file: its `kind` (e.g. `nvidia.com/gpu`) and device names (`0`, `all`, UUIDs). */
export interface CdiSpec {
  readonly path: string;
  readonly kind: string;
  readonly devices: readonly string[];
}

/** Every CDI spec found, and files that could not be read. */
export interface CdiInventory {
  readonly specs: readonly CdiSpec[];
  readonly problems: readonly { readonly path: string; readonly reason: string }[];
}

/** The CDI spec directories (execution.md §1.1): `/etc/cdi` and `/var/run/cdi`. */
export const DEFAULT_CDI_DIRS = ["/etc/cdi", "/var/run/cdi"] as const;

function unquote(value: string): string {
  const trimmed = value.replace(/\s+#.*$/, "").trim();
  if (
    (trimmed.startsWith('"') && trimmed.endsWith('"')) ||
    (trimmed.startsWith("'") && trimmed.endsWith("'"))
  ) {
    return trimmed.slice(1, -1);
  }
  return trimmed;
}

/**
 * Reads the `kind` and device names of a CDI spec, JSON or the block-style YAML that
 * `nvidia-ctk cdi generate` writes. Only those two things are read; everything else is ignored.
 *
 * @example
 * parseCdiSpec('kind: nvidia.com/gpu\ndevices:\n- name: "0"\n').devices // ["0"]
 */
export function parseCdiSpec(text: string): { kind: string; devices: string[] } | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      const parsed = JSON.parse(trimmed) as { kind?: unknown; devices?: unknown };
      if (typeof parsed.kind !== "string" || !Array.isArray(parsed.devices)) return undefined;
      const devices = parsed.devices
        .map((device: unknown) =>
          typeof device === "object" && device !== null
            ? (device as { name?: unknown }).name
            : undefined,
        )
        .filter((name): name is string => typeof name === "string");
      return { kind: parsed.kind, devices };
    } catch {
      return undefined;
    }
  }
  let kind: string | undefined;
  const devices: string[] = [];
  let inDevices = false;
  let itemIndent = -1;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim().length === 0 || raw.trim().startsWith("#") || raw.trim() === "---") continue;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (indent === 0 && !line.startsWith("-")) {
      inDevices = line === "devices:";
      itemIndent = -1;
      const kindMatch = /^kind:\s*(.+)$/.exec(line);
      if (kindMatch?.[1] !== undefined) kind = unquote(kindMatch[1]);
      continue;
    }
    if (!inDevices) continue;
    if (line.startsWith("- ") || line === "-") {
      if (itemIndent < 0) itemIndent = indent;
      if (indent !== itemIndent) continue;
      const nameMatch = /^-\s+name:\s*(.+)$/.exec(line);
      if (nameMatch?.[1] !== undefined) devices.push(unquote(nameMatch[1]));
      continue;
    }
    // A key of the current device item sits two columns right of its dash.
    const nameMatch = /^name:\s*(.+)$/.exec(line);
    if (nameMatch?.[1] !== undefined && indent === itemIndent + 2) {
      devices.push(unquote(nameMatch[1]));
    }
  }
  return kind === undefined ? undefined : { kind, devices };
}

/** Reads every `*.yaml`, `*.yml` and `*.json` spec in the given directories (absent ones are fine). */
export async function loadCdiInventory(
  dirs: readonly string[] = DEFAULT_CDI_DIRS,
): Promise<CdiInventory> {
  const specs: CdiSpec[] = [];
  const problems: { path: string; reason: string }[] = [];
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (!/\.(?:ya?ml|json)$/i.test(name)) continue;
      const path = join(dir, name);
      const text = await readFile(path, "utf8").catch(() => undefined);
      if (text === undefined || text.length > 4 * 1024 * 1024) {
        problems.push({ path, reason: "unreadable or larger than 4 MiB" });
        continue;
      }
      const spec = parseCdiSpec(text);
      if (spec === undefined) problems.push({ path, reason: "no kind or devices found" });
      else specs.push({ path, ...spec });
    }
  }
  return { specs, problems };
}

/** True when some spec of `kind` names `device` (or `all`, when every device is asked for). */
export function hasCdiDevice(inventory: CdiInventory, kind: string, device: string): boolean {
  return inventory.specs.some((spec) => spec.kind === kind && spec.devices.includes(device));
}

/** What the host offers for GPU workloads: NVIDIA GPUs, AMD devices and CDI specs. */
export interface HostGpuInventory {
  readonly nvidia: {
    readonly tool: "present" | "absent" | "failed";
    readonly gpus: readonly NvidiaGpu[];
    readonly problem?: string;
  };
  readonly amd: AmdDevices;
  readonly cdi: CdiInventory;
}

/** Where {@link probeHostGpus} looks. */
export interface GpuProbeOptions {
  readonly nvidiaSmi?: string;
  readonly devRoot?: string;
  readonly cdiDirs?: readonly string[];
  readonly run?: CommandRunner;
}

/** Runs `nvidia-smi` (when installed), looks for AMD devices and reads CDI specs. Changes nothing. */
export async function probeHostGpus(options: GpuProbeOptions = {}): Promise<HostGpuInventory> {
  const binary = options.nvidiaSmi ?? "nvidia-smi";
  const [amd, cdi, found] = await Promise.all([
    findAmdDevices(options.devRoot),
    loadCdiInventory(options.cdiDirs),
    findExecutable(binary),
  ]);
  if (found === undefined) return { nvidia: { tool: "absent", gpus: [] }, amd, cdi };
  const result = await (options.run ?? runCommand)({
    file: found,
    args: NVIDIA_SMI_ARGS,
    timeoutMs: 15_000,
    maxOutputBytes: 256 * 1024,
  });
  if (result.exitCode !== 0) {
    const problem = (result.stderr || result.stdout || "nvidia-smi failed").trim().slice(0, 500);
    return { nvidia: { tool: "failed", gpus: [], problem }, amd, cdi };
  }
  return { nvidia: { tool: "present", gpus: parseNvidiaSmi(result.stdout).gpus }, amd, cdi };
}
