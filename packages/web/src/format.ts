/** Small formatting helpers shared by the pages. Pure: no DOM, no React. */
import type { WorkloadProfile } from "@gpuaas/contract";
import type { Allocation } from "./api-types.js";

/** Words shown in their usual spelling when a machine name is made readable. */
const WORDS: Readonly<Record<string, string>> = {
  api: "API",
  amd: "AMD",
  cpu: "CPU",
  gpu: "GPU",
  http: "HTTP",
  jwt: "JWT",
  mcp: "MCP",
  mtls: "mTLS",
  nvidia: "NVIDIA",
  oci: "OCI",
  oidc: "OIDC",
  rocm: "ROCm",
  ssh: "SSH",
  tcp: "TCP",
  url: "URL",
};

/** `project_storage` → `Project storage`; `header_injected_jwt` → `Header injected JWT`. */
export function humanize(value: string): string {
  const words = value
    .replace(/[_-]+/g, " ")
    .trim()
    .split(/\s+/)
    .filter((word) => word.length > 0)
    .map((word) => WORDS[word.toLowerCase()] ?? word);
  if (words.length === 0) return value;
  const first = words[0] as string;
  words[0] = WORDS[first.toLowerCase()] ?? first.charAt(0).toUpperCase() + first.slice(1);
  return words.join(" ");
}

/** `sha256:0123456789ab…` → `sha256:0123456789ab` (the first 12 hex digits). */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return hex === undefined ? digest : `${algorithm}:${hex.slice(0, 12)}`;
}

/** The first 8 characters of an id, enough to tell records apart on a page. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** `NVIDIA hopper H200`, `AMD`, or `CPU only`. */
export function describeAccelerator(accelerator: Allocation["accelerator"]): string {
  if (accelerator.vendor === "none") return "CPU only";
  const vendor = accelerator.vendor === "amd" ? "AMD" : accelerator.vendor.toUpperCase();
  return [vendor, accelerator.family, accelerator.sku?.toUpperCase()].filter(Boolean).join(" ");
}

/** `2 GPU · 8 CPU · 32 GiB` */
export function describeShape(shape: {
  readonly gpu_count: number;
  readonly cpu_cores: number;
  readonly memory_gib: number;
}): string {
  return `${shape.gpu_count} GPU · ${shape.cpu_cores} CPU · ${shape.memory_gib} GiB`;
}

/** A one-line label of an allocation for pickers and summaries. */
export function describeAllocation(allocation: Allocation): string {
  return `${describeAccelerator(allocation.accelerator)} · ${allocation.cpu_architecture} · ${describeShape(
    {
      gpu_count: allocation.gpu_indices.length,
      cpu_cores: allocation.cpu_cores,
      memory_gib: allocation.memory_gib,
    },
  )}`;
}

/** `just now`, `5 min ago`, `3 h ago`, or the date for anything older than a day. */
export function formatRelative(iso: string, now: Date = new Date()): string {
  const then = new Date(iso);
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (Number.isNaN(seconds)) return iso;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return then.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

/** A local date and time with seconds, for timelines. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Formats a parameter value for read-only display. */
export function formatValue(value: unknown): string {
  if (value === undefined || value === null) return "—";
  if (typeof value === "string") return value.length === 0 ? "(none)" : value;
  if (typeof value === "boolean") return value ? "Yes" : "No";
  if (Array.isArray(value)) return value.length === 0 ? "(none)" : value.map(String).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** A parameter's value as a reader sees it: enum values humanized, the rest as {@link formatValue}. */
export function formatParameter(profile: WorkloadProfile, name: string, value: unknown): string {
  const schema = profile.parameters.schema.properties[name];
  if (schema?.enum !== undefined && (typeof value === "string" || typeof value === "number"))
    return humanize(String(value));
  return formatValue(value);
}

/** The parameter names of a profile in its `ui.order`, then the rest in declaration order. */
export function orderParameters(profile: WorkloadProfile): string[] {
  const properties = profile.parameters.schema.properties;
  const order = (profile.parameters.ui.order ?? []).filter((name) =>
    Object.hasOwn(properties, name),
  );
  return [...order, ...Object.keys(properties).filter((name) => !order.includes(name))];
}

/** A parameter's label: its schema title, or its name made readable. */
export function titleOf(profile: WorkloadProfile | undefined, name: string): string {
  return profile?.parameters.schema.properties[name]?.title ?? humanize(name);
}
