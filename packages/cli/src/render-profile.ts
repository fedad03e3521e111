import type { WorkloadProfile } from "@gpuaas/contract";
import { stringify } from "yaml";

/** The output formats of `gpuaas profiles normalize`. */
export type ProfileFormat = "yaml" | "json";

/**
 * A normalized profile as YAML or JSON text, ending in a newline. YAML output never uses anchors
 * and never folds long strings, so it diffs cleanly and reads back to the same data.
 */
export function renderProfile(profile: WorkloadProfile, format: ProfileFormat): string {
  if (format === "json") return `${JSON.stringify(profile, null, 2)}\n`;
  return stringify(profile, { aliasDuplicateObjects: false, lineWidth: 0 });
}
