/**
 * Reads what an agent reports in a task result. The result is untrusted input: every field is
 * optional, checked for its type and bounded, and anything unexpected is ignored rather than
 * refused, so a result always completes its task. See `docs/agent-protocol.md` for the shapes.
 */

/** Longest text kept from an excerpt (package install output, log tail), in characters. */
export const EXCERPT_CHARS = 4_000;
/** Most log lines kept in a failure's excerpt. */
export const EXCERPT_LINES = 50;

/** A published port the agent found for an endpoint. */
export interface PortReport {
  readonly endpoint: string | undefined;
  readonly container_port: number | undefined;
  readonly host_port: number;
}

/** The package-install step's outcome. */
export interface PackageInstallReport {
  readonly packages: readonly string[];
  readonly exit_code: number | undefined;
  readonly excerpt: string;
}

/** Why a task failed, as far as the agent could tell. */
export interface FailureReport {
  /** The agent's stable code, e.g. `readiness.timeout`; `task.failed` when it sent none. */
  readonly code: string;
  readonly message: string;
  readonly phase: string | undefined;
  readonly exit_code: number | undefined;
  readonly oom_killed: boolean | undefined;
  readonly log_excerpt: readonly string[];
}

/** Everything the reconciler reads from a result. */
export interface TaskReport {
  readonly container_id: string | undefined;
  readonly container_name: string | undefined;
  readonly ports: readonly PortReport[];
  readonly package_install: PackageInstallReport | undefined;
  readonly runtime: string | undefined;
  /** Present on a failed task (a default one when the agent sent no `error`). */
  readonly failure: FailureReport | undefined;
}

type Loose = Readonly<Record<string, unknown>>;

function asObject(value: unknown): Loose | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Loose)
    : undefined;
}

function asText(value: unknown, max = 256): string | undefined {
  return typeof value === "string" && value.length > 0 ? value.slice(0, max) : undefined;
}

function asInteger(value: unknown, min: number, max: number): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
    ? value
    : undefined;
}

/** Keeps the last lines of an excerpt, within {@link EXCERPT_LINES} and {@link EXCERPT_CHARS}. */
export function toExcerptLines(value: unknown): string[] {
  const lines =
    typeof value === "string"
      ? value.split(/\r?\n/)
      : Array.isArray(value)
        ? value.filter((line): line is string => typeof line === "string")
        : [];
  const kept: string[] = [];
  let total = 0;
  for (const line of lines.slice(-EXCERPT_LINES).reverse()) {
    const clipped = line.slice(0, 1_000);
    if (total + clipped.length > EXCERPT_CHARS) break;
    total += clipped.length;
    kept.unshift(clipped);
  }
  while (kept.length > 0 && kept.at(-1) === "") kept.pop();
  return kept;
}

function toExcerptText(value: unknown): string {
  const text =
    typeof value === "string"
      ? value
      : Array.isArray(value)
        ? value.filter((line) => typeof line === "string").join("\n")
        : "";
  return text.length > EXCERPT_CHARS ? `…${text.slice(-EXCERPT_CHARS)}` : text;
}

function toPorts(value: unknown): PortReport[] {
  if (!Array.isArray(value)) return [];
  const ports: PortReport[] = [];
  for (const item of value.slice(0, 32)) {
    const port = asObject(item);
    const hostPort = asInteger(port?.host_port, 1, 65_535);
    if (port === undefined || hostPort === undefined) continue;
    ports.push({
      endpoint: asText(port.endpoint, 64),
      container_port: asInteger(port.container_port, 1, 65_535),
      host_port: hostPort,
    });
  }
  return ports;
}

function toPackageInstall(value: unknown): PackageInstallReport | undefined {
  const install = asObject(value);
  if (install === undefined) return undefined;
  const packages = Array.isArray(install.packages)
    ? install.packages
        .filter((item): item is string => typeof item === "string")
        .slice(0, 64)
        .map((item) => item.slice(0, 256))
    : [];
  const exitCode = asInteger(install.exit_code, -1, 255);
  return {
    packages,
    // The agent's `ok: false` with no exit code (pip never ran) still reads as a failure.
    exit_code: exitCode ?? (install.ok === false ? -1 : undefined),
    excerpt: toExcerptText(install.excerpt ?? install.output),
  };
}

/** The first value of `key` found at the top of the result, in `failure`, or in `error.details`. */
function pick(result: Loose | undefined, key: string): unknown {
  const sources = [result, asObject(result?.failure), asObject(asObject(result?.error)?.details)];
  for (const source of sources) {
    const value = source?.[key];
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

function toFailure(result: Loose | undefined): FailureReport {
  const error = asObject(result?.error);
  const oom = pick(result, "oom_killed");
  return {
    code: asText(error?.code, 96) ?? asText(result?.code, 96) ?? "task.failed",
    message:
      asText(error?.message, 2_000) ??
      asText(asObject(result?.failure)?.reason, 2_000) ??
      asText(result?.reason, 2_000) ??
      asText(result?.message, 2_000) ??
      "the agent reported a failure without a message",
    phase: asText(error?.phase, 32) ?? asText(asObject(error?.details)?.phase, 32),
    exit_code: asInteger(pick(result, "exit_code"), -1, 255),
    oom_killed: typeof oom === "boolean" ? oom : undefined,
    log_excerpt: toExcerptLines(pick(result, "log_excerpt")),
  };
}

/** Reads a task result; `failed` makes a failure out of whatever the agent sent. */
export function readTaskReport(result: unknown, failed: boolean): TaskReport {
  const object = asObject(result);
  const runtime = asObject(object?.runtime);
  return {
    container_id: asText(object?.container_id, 128),
    container_name: asText(object?.container_name, 256),
    ports: toPorts(object?.ports),
    package_install: toPackageInstall(object?.package_install),
    runtime:
      runtime !== undefined
        ? [asText(runtime.name, 32), asText(runtime.version, 64)].filter(Boolean).join(" ") ||
          undefined
        : asText(object?.runtime, 96),
    failure: failed ? toFailure(object) : undefined,
  };
}
