import type { IssueSeverity } from "@gpuaas/contract";
import type { Position } from "./input-issues.js";

/**
 * An issue as the CLI reports it: a contract issue or an input issue, with the line and column
 * where the value it points at was written, when known.
 */
export interface ReportedIssue {
  readonly pointer: string;
  readonly code: string;
  readonly message: string;
  readonly severity: IssueSeverity;
  readonly line?: number;
  readonly column?: number;
}

/** Adds to each issue the position of the value its pointer names (or its closest ancestor). */
export function locateIssues(
  issues: readonly ReportedIssue[],
  locate: (pointer: string) => Position | undefined,
): ReportedIssue[] {
  return issues.map((issue) => {
    if (issue.line !== undefined) return issue;
    const position = locate(issue.pointer);
    return position === undefined ? issue : { ...issue, ...position };
  });
}
