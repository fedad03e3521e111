/** Helpers the operator routes share: naming the caller in the audit log, collecting problems. */
import type { Issue } from "@gpuaas/contract";
import type { FastifyRequest } from "fastify";
import { appendAudit, type StoreDb } from "../store/index.js";
import type { JsonObject, Principal } from "../store/types.js";
import { ApiError, type ApiErrorCode } from "./api-error.js";

/** One problem with a request, at a JSON pointer into it (`/body/digest`). */
export interface RequestProblem {
  readonly pointer: string;
  readonly code: ApiErrorCode;
  readonly message: string;
}

/** The audit actor of a principal: `user:<id>` or `service_account:<id>`. */
export function toActor(principal: Principal | undefined): string {
  if (principal === undefined) return "system";
  return principal.kind === "user"
    ? `user:${principal.user.id}`
    : `service_account:${principal.service_account.id}`;
}

/** Records what the caller of `request` did, under the request's correlation id. */
export async function auditRequest(
  db: StoreDb,
  request: FastifyRequest,
  action: string,
  target: string,
  projectId: string | null,
  data: JsonObject = {},
): Promise<void> {
  await appendAudit(db, {
    actor: toActor(request.principal),
    action,
    target,
    project_id: projectId,
    correlation_id: request.id,
    data,
  });
}

/**
 * Every problem at once as one {@link ApiError}: its code is the first problem's (callers put the
 * most telling problem first), and `issues` lists them all, each with its own code.
 */
export function toProblemError(
  problems: readonly [RequestProblem, ...RequestProblem[]],
  message: string,
): ApiError {
  const first = problems[0];
  // The error body serialises issues as {pointer, code, message}; API issue codes come from the
  // API catalogue rather than the contract's, so they are widened here, in one place.
  const issues = problems.map((problem) => ({ ...problem, severity: "error" }) as unknown as Issue);
  return new ApiError(first.code, problems.length === 1 ? first.message : message, { issues });
}

/** True for a list with at least one item, typed so. */
export function isNonEmpty<T>(items: readonly T[]): items is readonly [T, ...T[]] {
  return items.length > 0;
}
