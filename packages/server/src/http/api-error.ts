import type { Issue } from "@gpuaas/contract";
import type { StoreErrorCode } from "../store/index.js";

/**
 * The closed catalogue of API error codes, each with its HTTP status. A code without a status
 * does not compile; codes are never renamed or reused.
 */
export const API_ERRORS = {
  "request.invalid": 400,
  "request.malformed_json": 400,
  "request.unsupported_media_type": 415,
  "request.body_too_large": 413,
  "request.not_found": 404,
  "request.method_not_allowed": 405,
  "auth.missing_token": 401,
  "auth.invalid_token": 401,
  "auth.forbidden": 403,
  "auth.csrf_required": 403,
  "auth.session_needs_user": 403,
  "resource.not_found": 404,
  "resource.conflict": 409,
  "idempotency.key_reused": 422,
  "profile.invalid": 422,
  "profile.gate_failed": 422,
  "artifact.digest_required": 422,
  "artifact.foreign_registry": 422,
  "artifact.invalid_repository": 422,
  "artifact.unknown_variant": 422,
  "artifact.variant_mismatch": 422,
  "artifact.verify_failed": 422,
  "artifact.registry_unreachable": 502,
  "artifact.illegal_transition": 409,
  "instance.illegal_transition": 409,
  "instance.state_conflict": 409,
  "instance.not_removable": 409,
  "instance.no_rollback_target": 409,
  "allocation.invalid": 422,
  "allocation.gpu_conflict": 409,
  "launch.invalid": 422,
  "launch.allocation_not_active": 422,
  "launch.allocation_other_project": 403,
  "launch.app_not_entitled": 403,
  "launch.app_not_published": 422,
  "launch.artifact_not_promoted": 422,
  "launch.artifact_not_found": 422,
  "launch.artifact_no_match": 422,
  "launch.digest_untrusted": 422,
  "launch.storage_mode_not_allowed": 422,
  "launch.exposure_not_supported": 422,
  "launch.shape_exceeds_allocation": 422,
  "launch.gpus_claimed": 409,
  "launch.adapter_disabled": 503,
  "agent.bootstrap_invalid": 401,
  "instance.logs_unavailable": 409,
  "instance.logs_failed": 502,
  "instance.logs_timeout": 504,
  "ingress.unknown_route": 404,
  "ingress.invalid_redirect": 400,
  "ingress.not_a_browser_route": 409,
  "ingress.api_keys_unsupported": 409,
  internal: 500,
} as const satisfies Record<string, number>;

/** A stable API error code. */
export type ApiErrorCode = keyof typeof API_ERRORS;

/** The one error body every API error uses. */
export interface ApiErrorBody {
  readonly code: ApiErrorCode | StoreErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly issues?: readonly {
    readonly pointer: string;
    readonly code: string;
    readonly message: string;
  }[];
  readonly correlation_id: string;
}

/** An error the API reports to its client as it is. Anything else becomes `internal`. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly issues: readonly Issue[] | undefined;

  constructor(
    code: ApiErrorCode,
    message: string,
    extra: { details?: Readonly<Record<string, unknown>>; issues?: readonly Issue[] } = {},
  ) {
    super(message);
    this.code = code;
    this.status = API_ERRORS[code];
    this.details = extra.details;
    this.issues = extra.issues;
  }
}

/** True for an {@link ApiError}, also across module copies (checks the name, not the prototype). */
export function isApiError(error: unknown): error is ApiError {
  return (
    error instanceof Error &&
    error.name === "ApiError" &&
    typeof (error as ApiError).code === "string"
  );
}
