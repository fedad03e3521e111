/**
 * The closed catalogue of issue codes the contract can report.
 *
 * Codes are stable: callers branch on them, documentation lists them, and a code is never renamed
 * or reused. The prose of a message may change; the code may not. Each entry carries the
 * severity it is reported with and a one-line summary used by `docs/errors.md`.
 */
export const ISSUE_CODES = {
  // The document as a whole.
  "document.not_object": { severity: "error", summary: "The document is not a JSON/YAML object." },
  "document.too_deep": { severity: "error", summary: "The document nests deeper than allowed." },
  "document.not_json": {
    severity: "error",
    summary: "The document holds a value JSON cannot represent (a bigint, function or symbol).",
  },
  "document.too_large": {
    severity: "error",
    summary: "The document has more values or more text than allowed.",
  },

  // Structural (JSON Schema) problems, one code per kind of violation.
  "profile.schema.required": { severity: "error", summary: "A required key is missing." },
  "profile.schema.unknown_key": {
    severity: "error",
    summary: "A key is not part of the contract.",
  },
  "profile.schema.type": { severity: "error", summary: "A value has the wrong type." },
  "profile.schema.enum": {
    severity: "error",
    summary: "A value is not one of the allowed values.",
  },
  "profile.schema.const": {
    severity: "error",
    summary: "A value must be exactly the fixed value.",
  },
  "profile.schema.pattern": {
    severity: "error",
    summary: "A string does not have the required form.",
  },
  "profile.schema.range": { severity: "error", summary: "A number is outside its allowed range." },
  "profile.schema.length": {
    severity: "error",
    summary: "A string or list is too short or too long.",
  },
  "profile.schema.duplicate": { severity: "error", summary: "A list repeats an item." },
  "profile.schema.invalid": { severity: "error", summary: "A value does not match the contract." },

  // Profile metadata.
  "profile.kind.unsupported": {
    severity: "error",
    summary: "The manifest kind or version is not supported.",
  },

  // Parameters and their UI.
  "profile.parameters.required_undeclared": {
    severity: "error",
    summary: "parameters.schema.required names a parameter that is not declared.",
  },
  "profile.parameters.default_invalid": {
    severity: "error",
    summary: "A parameter default does not satisfy its own schema.",
  },
  "profile.parameters.schema_invalid": {
    severity: "error",
    summary: "A parameter schema contradicts itself (bounds, enum types, pattern).",
  },
  "profile.parameters.reserved_type": {
    severity: "error",
    summary: "A platform-reserved parameter is declared with the wrong type.",
  },
  "profile.ui.unknown_field": {
    severity: "error",
    summary: "parameters.ui references a parameter that is not declared.",
  },
  "profile.ui.duplicate_field": {
    severity: "error",
    summary: "parameters.ui lists a parameter twice.",
  },
  "profile.ui.duplicate_group": { severity: "error", summary: "Two ui.groups share an id." },
  "profile.wizard.unknown_field": {
    severity: "error",
    summary: "A wizard field component names a parameter that is not declared.",
  },
  "profile.wizard.field_without_name": {
    severity: "error",
    summary: "A wizard `field` component has no `name`.",
  },
  "profile.wizard.unexpected_name": {
    severity: "error",
    summary: "A platform wizard component carries a `name`; only `field` components do.",
  },
  "profile.wizard.duplicate_field": {
    severity: "error",
    summary: "A parameter appears in more than one wizard component.",
  },
  "profile.wizard.duplicate_step": { severity: "error", summary: "Two wizard steps share an id." },
  "profile.wizard.duplicate_component": {
    severity: "error",
    summary: "A platform component that must appear once appears more than once.",
  },
  "profile.wizard.required_unreachable": {
    severity: "error",
    summary: "A required parameter has no wizard field, so a user can never set it.",
  },
  "profile.wizard.missing_target_allocation": {
    severity: "error",
    summary: "An existing_allocation profile has no platform.target_allocation component.",
  },
  "profile.wizard.review_not_last": {
    severity: "warning",
    summary: "platform.review is not in the last wizard step.",
  },

  // Artifacts.
  "profile.artifact.digest_not_required": {
    severity: "error",
    summary: "An artifact does not require a digest; deploys are by digest only.",
  },
  "profile.artifact.digest_invalid": {
    severity: "error",
    summary: "A digest is not of the form sha256:<64 lowercase hex>.",
  },
  "profile.artifact.tag_reference": {
    severity: "error",
    summary: "artifact_name carries a tag, digest or registry host instead of a repository name.",
  },
  "profile.artifact.name_invalid": {
    severity: "error",
    summary: "artifact_name is not a valid OCI repository name.",
  },
  "profile.artifact.duplicate_name": {
    severity: "error",
    summary: "Two artifact variants share an artifact_name.",
  },
  "profile.artifact.ambiguous_selector": {
    severity: "error",
    summary: "Two artifact variants match exactly the same allocations.",
  },
  "profile.artifact.no_cpu_variant": {
    severity: "warning",
    summary: "gpu_count may be 0 but no CPU-only artifact variant exists.",
  },
  "profile.artifact.no_gpu_variant": {
    severity: "error",
    summary: "The profile requires GPUs but has no GPU artifact variant.",
  },

  // Resources and storage.
  "profile.resources.default_below_minimum": {
    severity: "error",
    summary: "A resource parameter default is below the profile's resource minimum.",
  },
  "profile.resources.default_above_maximum": {
    severity: "error",
    summary: "A resource parameter default is above the profile's resource maximum.",
  },
  "profile.resources.inconsistent": {
    severity: "error",
    summary: "Resource minimums, defaults and maximums contradict each other.",
  },
  "profile.storage.duplicate_mount": {
    severity: "error",
    summary: "Two storage mounts share a name or path.",
  },
  "profile.storage.mode_mismatch": {
    severity: "error",
    summary: "A mount-mode parameter offers a mode the mount does not allow.",
  },
  "profile.storage.path_invalid": {
    severity: "error",
    summary: "A mount path is not an absolute, normalized container path.",
  },

  // Endpoints.
  "profile.endpoint.duplicate_name": { severity: "error", summary: "Two endpoints share a name." },
  "profile.endpoint.duplicate_port": {
    severity: "error",
    summary: "Two endpoints share a container port.",
  },
  "profile.endpoint.unknown_reference": {
    severity: "error",
    summary: "A reference to an endpoint does not resolve.",
  },
  "profile.endpoint.reserved_route_family": {
    severity: "error",
    summary: "platform_admin and terminal_ws route families are reserved for the platform.",
  },
  "profile.endpoint.route_family_mismatch": {
    severity: "error",
    summary: "route_family contradicts client_auth_mode.",
  },
  "profile.endpoint.missing_type": {
    severity: "error",
    summary: "An endpoint declares neither `type` nor legacy `protocol`.",
  },
  "profile.endpoint.missing_auth_pattern": {
    severity: "error",
    summary: "A v1.1 endpoint declares no auth_pattern.",
  },
  "profile.endpoint.legacy_conflict": {
    severity: "error",
    summary: "Legacy endpoint fields contradict the v1.1 fields on the same endpoint.",
  },
  "profile.endpoint.legacy_fields": {
    severity: "warning",
    summary:
      "The endpoint uses legacy fields (protocol, exposure_modes, proxy); they are normalized to v1.1.",
  },
  "profile.endpoint.websocket_without_ingress": {
    severity: "warning",
    summary: "websocket_required is set on an endpoint without managed ingress.",
  },
  "profile.endpoint.exposure_unsupported": {
    severity: "error",
    summary: "The exposure_mode parameter offers a mode no endpoint can serve.",
  },

  // Execution.
  "profile.execution.default_engine_inactive": {
    severity: "error",
    summary: "The default engine is not listed as active in supported_engines.",
  },
  "profile.execution.duplicate_engine": {
    severity: "error",
    summary: "supported_engines lists an engine twice.",
  },
  "profile.execution.compose_renderer_missing": {
    severity: "error",
    summary: "A docker_compose profile has no execution.compose.renderer.",
  },
  "profile.execution.compose_unknown_mount": {
    severity: "error",
    summary: "A compose topology service references a storage mount that is not declared.",
  },
  "profile.execution.compose_duplicate_service": {
    severity: "error",
    summary: "Two compose topology services share a name.",
  },
  "profile.execution.unknown_placeholder": {
    severity: "error",
    summary: "A ${name} placeholder in command_args or container_env names no declared parameter.",
  },
  "profile.execution.env_reserved": {
    severity: "error",
    summary: "container_env sets a variable the platform owns.",
  },

  // Outputs and validation.
  "profile.outputs.duplicate_name": { severity: "error", summary: "Two outputs share a name." },
  "profile.validation.duplicate_name": {
    severity: "error",
    summary: "Two readiness or smoke checks share a name.",
  },
  "profile.validation.no_readiness": {
    severity: "warning",
    summary:
      "No readiness probe is declared; the platform cannot tell when the workload is usable.",
  },

  // Security.
  "profile.security.elevated_not_approved": {
    severity: "error",
    summary:
      "Privileged mode or host mounts requested by a profile that is not platform-curated and approved.",
  },
  "profile.security.host_path_invalid": {
    severity: "error",
    summary: "A host mount path is not absolute and normalized.",
  },

  // Launch requests.
  "launch.request_invalid": {
    severity: "error",
    summary: "The launch request is not a JSON object of bounded size.",
  },
  "launch.unknown_key": {
    severity: "error",
    summary: "The launch request carries a key that is not part of it.",
  },
  "launch.missing": { severity: "error", summary: "A required launch request value is missing." },
  "launch.type": { severity: "error", summary: "A launch request value has the wrong type." },
  "launch.app_mismatch": { severity: "error", summary: "app_slug does not name this profile." },
  "launch.allocation_id_invalid": {
    severity: "error",
    summary: "placement_intent.target_allocation_id is not a valid id.",
  },
  "launch.display_name_invalid": {
    severity: "error",
    summary: "display_name is empty, too long or has control characters.",
  },
  "launch.config.unknown_key": {
    severity: "error",
    summary: "config sets a parameter the profile does not declare.",
  },
  "launch.config.resource_in_config": {
    severity: "error",
    summary: "config sets a resource value; resources go in resource_overrides.",
  },
  "launch.config.invalid": {
    severity: "error",
    summary: "A config value does not satisfy the parameter schema.",
  },
  "launch.config.required": {
    severity: "error",
    summary: "A required parameter has no value and no default.",
  },
  "launch.resources.unknown_key": {
    severity: "error",
    summary: "resource_overrides sets an unknown resource.",
  },
  "launch.resources.invalid": {
    severity: "error",
    summary: "A resource value is not a non-negative integer.",
  },
  "launch.resources.below_minimum": {
    severity: "error",
    summary: "A resource value is below the profile's minimum.",
  },
  "launch.resources.above_maximum": {
    severity: "error",
    summary: "A resource value is above the profile's maximum.",
  },
  "launch.packages.invalid": {
    severity: "error",
    summary: "A Python package entry is not a single-token pip requirement specifier.",
  },
  "launch.packages.too_many": {
    severity: "error",
    summary: "The Python package list has too many entries.",
  },
  "launch.storage.mode_not_allowed": {
    severity: "error",
    summary: "The chosen storage mode is not allowed by the mount.",
  },

  // Artifact selection.
  "artifact.none_eligible": {
    severity: "error",
    summary: "No artifact record is in a launchable state.",
  },
  "artifact.no_match": {
    severity: "error",
    summary: "No launchable artifact matches the allocation.",
  },
  "artifact.gpu_requested_on_cpu_allocation": {
    severity: "error",
    summary: "GPUs were requested but the allocation has no accelerator.",
  },
} as const satisfies Record<string, { severity: IssueSeverity; summary: string }>;

/** How bad an issue is: errors make a document or request unusable, warnings do not. */
export type IssueSeverity = "error" | "warning";

/** A stable, machine-readable issue code from {@link ISSUE_CODES}. */
export type IssueCode = keyof typeof ISSUE_CODES;

/**
 * One problem found in a document or request.
 *
 * `pointer` is an RFC 6901 JSON pointer into the input that was checked. It points at the value
 * that is wrong or, for a missing key, at where that key should be (the parent path plus the key).
 */
export interface Issue {
  readonly pointer: string;
  readonly code: IssueCode;
  readonly message: string;
  readonly severity: IssueSeverity;
}

/** Builds an issue with the catalogue's severity for its code. */
export function createIssue(pointer: string, code: IssueCode, message: string): Issue {
  return { pointer, code, message, severity: ISSUE_CODES[code].severity };
}

/** True when the list holds at least one issue of severity `error`. */
export function hasErrors(issues: readonly Issue[]): boolean {
  return issues.some((issue) => issue.severity === "error");
}

/** Escapes one reference token for a JSON pointer (RFC 6901: `~` → `~0`, `/` → `~1`). */
export function escapePointerToken(token: string | number): string {
  return String(token).replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Joins reference tokens into a JSON pointer, e.g. `toPointer(["a", 0])` → `"/a/0"`. */
export function toPointer(tokens: readonly (string | number)[]): string {
  return tokens.map((token) => `/${escapePointerToken(token)}`).join("");
}
