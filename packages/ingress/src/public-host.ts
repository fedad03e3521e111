/**
 * The operator's public host map (`APP_RUNTIME_MANAGED_INGRESS_PUBLIC_HOST_MAP`) and the
 * per-instance host derived from it.
 */

/** Host map entries keyed `<app_slug>.<endpoint_name>`, e.g. `jupyterlab.web` → `jupyter.apps.example.test`. */
export type PublicHostMap = Readonly<Record<string, string>>;

/** Stable codes of the problems {@link parsePublicHostMap} reports. */
export const HOST_MAP_PROBLEM_CODES = [
  "ingress.host_map.not_parsable",
  "ingress.host_map.invalid_key",
  "ingress.host_map.invalid_host",
] as const;
/** One of {@link HOST_MAP_PROBLEM_CODES}. */
export type HostMapProblemCode = (typeof HOST_MAP_PROBLEM_CODES)[number];

/** One problem of a host map, located by its key (empty when the whole text is at fault). */
export interface HostMapProblem {
  readonly key: string;
  readonly code: HostMapProblemCode;
  readonly message: string;
}

/** What {@link parsePublicHostMap} found: the usable entries and every problem. */
export interface HostMapParse {
  readonly map: PublicHostMap;
  readonly problems: readonly HostMapProblem[];
}

const KEY = /^[a-z0-9][a-z0-9-]*\.[a-z][a-z0-9_]*$/;
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const MAX_HOST_LENGTH = 253;

/** True when `host` is a lowercase DNS name of valid labels (no wildcard, no port). */
export function isDnsName(host: string): boolean {
  return (
    host.length > 0 &&
    host.length <= MAX_HOST_LENGTH &&
    host.split(".").every((label) => LABEL.test(label))
  );
}

function isMapValue(value: string): boolean {
  const rest = value.startsWith("*.") ? value.slice(2) : value;
  return isDnsName(rest);
}

/**
 * Parses the host map from its environment form: a JSON object, or `key=host` pairs separated by
 * commas or whitespace. Every problem is reported; good entries are kept.
 *
 * @example parsePublicHostMap("jupyterlab.web=jupyter.apps.example.test,vllm-openai.openai=*.apps.example.test")
 */
export function parsePublicHostMap(text: string): HostMapParse {
  const trimmed = text.trim();
  let entries: [string, unknown][];
  if (trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return failed("the host map starts with { but is not valid JSON");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return failed("the host map is not a JSON object");
    }
    entries = Object.entries(parsed);
  } else {
    entries = [];
    for (const pair of trimmed.split(/[\s,]+/).filter((part) => part !== "")) {
      const at = pair.indexOf("=");
      if (at <= 0) return failed(`"${pair}" is not key=host`);
      entries.push([pair.slice(0, at), pair.slice(at + 1)]);
    }
  }
  const map: Record<string, string> = {};
  const problems: HostMapProblem[] = [];
  for (const [key, raw] of entries) {
    if (!KEY.test(key)) {
      problems.push({
        key,
        code: "ingress.host_map.invalid_key",
        message: `key "${key}" is not <app_slug>.<endpoint_name>`,
      });
      continue;
    }
    const value = typeof raw === "string" ? raw.trim().toLowerCase() : "";
    if (!isMapValue(value)) {
      problems.push({
        key,
        code: "ingress.host_map.invalid_host",
        message: `"${String(raw)}" is not a host name, a bare label or *.<domain>`,
      });
      continue;
    }
    map[key] = value;
  }
  return { map, problems };
}

function failed(message: string): HostMapParse {
  return { map: {}, problems: [{ key: "", code: "ingress.host_map.not_parsable", message }] };
}

/** The outcome of {@link toInstanceHost}: a host, or why there is none. */
export type InstanceHost =
  | { readonly ok: true; readonly host: string }
  | {
      readonly ok: false;
      readonly reason: "invalid_public_host" | "host_outside_domain";
      readonly message: string;
    };

/**
 * Gives an instance its own single-label host under the host map's base, so that two instances
 * never share an origin and one `*.base` certificate covers every instance:
 * `jupyter.apps.example.test` → `jupyter-<short id>.apps.example.test`; `*.apps.example.test` →
 * `<endpoint name>-<short id>.apps.example.test`; a bare label `jupyter` (with `domain`) →
 * `jupyter-<short id>.<domain>`. With `domain`, the host must lie under it.
 */
export function toInstanceHost(
  mapped: string,
  endpointName: string,
  shortId: string,
  domain?: string,
): InstanceHost {
  const value = mapped.trim().toLowerCase();
  let prefix: string;
  let base: string;
  if (value.startsWith("*.")) {
    prefix = endpointName.replaceAll("_", "-");
    base = value.slice(2);
  } else if (value.includes(".")) {
    const dot = value.indexOf(".");
    prefix = value.slice(0, dot);
    base = value.slice(dot + 1);
  } else if (domain !== undefined) {
    prefix = value;
    base = domain.toLowerCase();
  } else {
    return {
      ok: false,
      reason: "invalid_public_host",
      message: `host map value "${mapped}" is a bare label and no apps domain is configured`,
    };
  }
  const host = `${prefix}-${shortId.toLowerCase()}.${base}`;
  const label = host.slice(0, host.indexOf("."));
  if (!LABEL.test(label) || !isDnsName(host)) {
    return {
      ok: false,
      reason: "invalid_public_host",
      message: `"${host}" is not a valid host name (labels of a-z, 0-9 and -, at most 63 characters)`,
    };
  }
  if (domain !== undefined && !host.endsWith(`.${domain.toLowerCase()}`)) {
    return {
      ok: false,
      reason: "host_outside_domain",
      message: `"${host}" is not under the apps domain "${domain}"`,
    };
  }
  return { ok: true, host };
}
