import { SERVER_OPTIONS } from "@gpuaas/server";
import { Option } from "commander";

/** The name of one control-plane option (`host`, `managed_ingress_host_map`, …). */
export type ServerOptionName = keyof typeof SERVER_OPTIONS;

// What `gpuaas up` adds to an option's own description.
const HELP_NOTES: Partial<Record<ServerOptionName, string>> = {
  data_dir: " Default: ./.gpuaas.",
  oci_node_tasks_enabled: " Default: on when the in-process agent runs.",
};

function toPlaceholder(schema: Readonly<Record<string, unknown>>): string {
  if (schema.type === "integer") return "<n>";
  if (schema.type === "object") return "<json>";
  return "<value>";
}

/**
 * One commander option per control-plane option, made from {@link SERVER_OPTIONS}, so every
 * option a config file or an environment variable sets is a `gpuaas up` flag too. Each help line
 * names the environment variable; values are checked by `loadServerConfig`, not by commander.
 *
 * @example createServerFlagOptions().map((option) => option.long) // ["--host", "--port", …]
 */
export function createServerFlagOptions(): Option[] {
  return Object.entries(SERVER_OPTIONS).map(([name, spec]) => {
    const schema = spec.schema as Readonly<Record<string, unknown>>;
    const usage = schema.type === "boolean" ? spec.flag : `${spec.flag} ${toPlaceholder(schema)}`;
    const note = HELP_NOTES[name as ServerOptionName] ?? "";
    return new Option(usage, `${spec.description}${note} [${spec.env}]`);
  });
}

/**
 * The control-plane options given on the command line, keyed by option name, from the values
 * commander parsed (`{ managedIngressHostMap: "{…}" }` → `{ managed_ingress_host_map: "{…}" }`).
 * Options not given are left out, so the config file and the environment still apply.
 */
export function toServerFlags(
  values: Readonly<Record<string, unknown>>,
): Partial<Record<ServerOptionName, unknown>> {
  const flags: Partial<Record<ServerOptionName, unknown>> = {};
  for (const [name, spec] of Object.entries(SERVER_OPTIONS)) {
    const value = values[new Option(spec.flag).attributeName()];
    if (value !== undefined) flags[name as ServerOptionName] = value;
  }
  return flags;
}
