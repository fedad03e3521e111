import type { AgentDeps } from "./agent-deps.js";
import { type AgentError, toAgentError } from "./agent-errors.js";
import { RuntimeCommandError } from "./container-runtime.js";
import { AGENT_LABELS } from "./managed-containers.js";
import { createRedactor, toExcerpt } from "./redact.js";

/** A container's recent output, redacted and bounded. */
export interface LogsResult {
  readonly ok: boolean;
  readonly container_name: string;
  readonly tail: number;
  readonly text: string;
  readonly truncated: boolean;
  readonly error?: AgentError;
}

/**
 * Reads the last `tail` lines (clamped to 1…`maxLogTail`) of a managed container's output, with
 * credentials redacted and the size bounded by `maxLogBytes`. Only containers this agent manages
 * are read.
 */
export async function readLogs(
  name: string,
  tail: number,
  deps: AgentDeps,
  correlationId = "",
): Promise<LogsResult> {
  const { runtime, config } = deps;
  const lines = Math.max(1, Math.min(config.maxLogTail, Math.floor(tail) || 1));
  const redact = createRedactor(deps.secrets ?? []);
  const failWith = (error: AgentError): LogsResult => ({
    ok: false,
    container_name: name,
    tail: lines,
    text: "",
    truncated: false,
    error,
  });
  try {
    const details = await runtime.inspectContainer(name);
    if (details === undefined || details.labels[AGENT_LABELS.managed] !== "true") {
      return failWith(
        toAgentError("logs.not_found", `no managed container ${name} on this host`, correlationId),
      );
    }
    const raw = await runtime.readLogs(name, lines);
    const text = toExcerpt(redact(raw), config.maxLogBytes);
    return { ok: true, container_name: name, tail: lines, text, truncated: text !== redact(raw) };
  } catch (error) {
    const detail =
      error instanceof RuntimeCommandError ? error.stderr || error.message : String(error);
    return failWith(
      toAgentError(
        "logs.failed",
        `reading logs of ${name} failed (${redact(detail)})`,
        correlationId,
      ),
    );
  }
}
