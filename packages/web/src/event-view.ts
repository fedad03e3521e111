/**
 * How an instance event is shown in the timeline: output excerpts (a package install's pip
 * output, a failed container's last log lines) as blocks, failure reasons highlighted, everything
 * else as small facts. Generic over the event data: no event type is special-cased. Pure.
 */
import { formatValue, humanize } from "./format.js";

/** The parts of an event's data, each as [key path, text]. */
export interface EventView {
  readonly excerpts: readonly (readonly [string, string])[];
  readonly reasons: readonly (readonly [string, string])[];
  readonly facts: readonly (readonly [string, string])[];
  /** True when the event reports a failure (by its type or a reason in its data). */
  readonly failed: boolean;
}

/** Last key segments that hold output to show as a block. */
const EXCERPT_KEY = /^(excerpt|log_excerpt|output|stdout|stderr|logs?|install_output)$/i;
/** Last key segments that say why something failed. */
const REASON_KEY = /^(reason|error|failure|problem|cause)$/i;
const FAILURE_TYPE = /fail|error|refus|lost|oom/i;

function lastSegment(path: string): string {
  return path.split(".").pop() ?? path;
}

/** Splits an event into excerpts, failure reasons and other facts (nested objects one level deep). */
export function toEventView(type: string, data: Readonly<Record<string, unknown>>): EventView {
  const excerpts: [string, string][] = [];
  const reasons: [string, string][] = [];
  const facts: [string, string][] = [];
  const failing = FAILURE_TYPE.test(type) || Object.keys(data).some((key) => REASON_KEY.test(key));
  const visit = (path: string, value: unknown, depth: number): void => {
    const key = lastSegment(path);
    const lines =
      Array.isArray(value) && value.every((line) => typeof line === "string")
        ? (value as string[]).join("\n")
        : typeof value === "string"
          ? value
          : undefined;
    if (lines !== undefined && EXCERPT_KEY.test(key)) {
      if (lines.length > 0) excerpts.push([path, lines]);
      return;
    }
    if (
      typeof value === "string" &&
      value.length > 0 &&
      (REASON_KEY.test(key) || (failing && key === "message"))
    ) {
      reasons.push([path, value]);
      return;
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && depth < 1) {
      for (const [inner, nested] of Object.entries(value))
        visit(`${path}.${inner}`, nested, depth + 1);
      return;
    }
    facts.push([path, formatValue(value)]);
  };
  for (const [key, value] of Object.entries(data)) visit(key, value, 0);
  return { excerpts, reasons, facts, failed: failing };
}

/** `instance.launch_requested` → `Launch requested`; `instance.packages_failed` → `Packages failed`. */
export function describeEventType(type: string): string {
  const rest = type.split(".").slice(1).join(" ");
  return humanize(rest.length > 0 ? rest : type);
}

/** A readable label of a data key path: `install.log_excerpt` → `Install log excerpt`. */
export function describeEventKey(path: string): string {
  return humanize(path.replaceAll(".", " "));
}
