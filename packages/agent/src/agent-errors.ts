/** The step of a task a failure belongs to. */
export type TaskPhase =
  | "validate"
  | "preflight"
  | "pull"
  | "create"
  | "start"
  | "packages"
  | "readiness"
  | "control"
  | "remove"
  | "logs"
  | "internal";

/** What the control plane needs to know about a code besides its name. */
export interface AgentErrorInfo {
  readonly phase: TaskPhase;
  /** True when the same task may succeed if retried unchanged (a fresh lease, a fresh credential). */
  readonly retryable: boolean;
}

/**
 * The catalogue of the agent's stable failure codes. Callers branch on the code, never on the
 * message. A code without an entry here does not compile.
 */
export const AGENT_ERRORS = {
  "task.spec_invalid": { phase: "validate", retryable: false },
  "task.kind_unsupported": { phase: "validate", retryable: false },
  "preflight.runtime_missing": { phase: "preflight", retryable: false },
  "preflight.runtime_not_answering": { phase: "preflight", retryable: true },
  "preflight.credential_mismatch": { phase: "preflight", retryable: false },
  "preflight.gpu_outside_mask": { phase: "preflight", retryable: false },
  "preflight.gpu_unavailable": { phase: "preflight", retryable: false },
  "preflight.host_mount_refused": { phase: "preflight", retryable: false },
  "preflight.name_conflict": { phase: "preflight", retryable: false },
  "preflight.generation_superseded": { phase: "preflight", retryable: false },
  "preflight.port_in_use": { phase: "preflight", retryable: true },
  "preflight.disk_low": { phase: "preflight", retryable: true },
  "preflight.platform_mismatch": { phase: "preflight", retryable: false },
  "pull.unauthorized": { phase: "pull", retryable: true },
  "pull.not_found": { phase: "pull", retryable: false },
  "pull.failed": { phase: "pull", retryable: true },
  "create.failed": { phase: "create", retryable: true },
  "start.failed": { phase: "start", retryable: true },
  "packages.index_unconfigured": { phase: "packages", retryable: false },
  "packages.install_failed": { phase: "packages", retryable: true },
  "readiness.timeout": { phase: "readiness", retryable: true },
  "readiness.container_exited": { phase: "readiness", retryable: true },
  "control.not_found": { phase: "control", retryable: false },
  "control.failed": { phase: "control", retryable: true },
  "remove.failed": { phase: "remove", retryable: true },
  "logs.not_found": { phase: "logs", retryable: false },
  "logs.failed": { phase: "logs", retryable: true },
  internal: { phase: "internal", retryable: true },
} as const satisfies Record<string, AgentErrorInfo>;

/** A stable, machine-readable failure code of the agent. */
export type AgentErrorCode = keyof typeof AGENT_ERRORS;

/** Every code of {@link AGENT_ERRORS}, in catalogue order. */
export const AGENT_ERROR_CODES = Object.keys(AGENT_ERRORS) as readonly AgentErrorCode[];

/** One problem found while checking a task, with a JSON pointer into the task spec. */
export interface AgentIssue {
  readonly pointer: string;
  readonly code: AgentErrorCode;
  /** A sentence telling the operator what to fix. */
  readonly message: string;
}

/** The one error body of every task result: `{code, message, details?, issues?, correlation_id}`. */
export interface AgentError {
  readonly code: AgentErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  readonly issues?: readonly AgentIssue[];
  readonly correlation_id: string;
}

/**
 * Builds an {@link AgentError}. `details` always carries the code's `phase` (the control plane
 * reads `error.details.phase`), plus whatever the caller adds.
 */
export function toAgentError(
  code: AgentErrorCode,
  message: string,
  correlationId: string,
  extra: { details?: Record<string, unknown>; issues?: readonly AgentIssue[] } = {},
): AgentError {
  return {
    code,
    message,
    details: { phase: AGENT_ERRORS[code].phase, ...extra.details },
    ...(extra.issues !== undefined && extra.issues.length > 0 ? { issues: extra.issues } : {}),
    correlation_id: correlationId,
  };
}

/** Builds the error of a list of issues: the first issue's code and message, all issues attached. */
export function toIssuesError(issues: readonly AgentIssue[], correlationId: string): AgentError {
  const [first] = issues;
  if (first === undefined) return toAgentError("internal", "no issue to report", correlationId);
  const message =
    issues.length === 1 ? first.message : `${first.message} (and ${issues.length - 1} more)`;
  return toAgentError(first.code, message, correlationId, { issues });
}
