import type { ReportedIssue } from "./locate-issues.js";

/**
 * One issue as an indented line: severity, pointer (`/` for the whole document), code, message
 * and, when known, where it was written.
 *
 * @example renderIssue(issue) // '  error    /profile/slug  profile.schema.pattern  use lowercase … (line 5, column 3)'
 */
export function renderIssue(issue: ReportedIssue): string {
  const position =
    issue.line === undefined
      ? ""
      : ` (line ${issue.line}${issue.column === undefined ? "" : `, column ${issue.column}`})`;
  const pointer = issue.pointer === "" ? "/" : issue.pointer;
  return `  ${issue.severity.padEnd(7)}  ${pointer}  ${issue.code}  ${issue.message}${position}`;
}

/**
 * A file's heading and its issues, one per line, each line ending in a newline.
 *
 * @example renderFileIssues("x.yaml", false, []) // "x.yaml: ok\n"
 */
export function renderFileIssues(
  file: string,
  unusable: boolean,
  issues: readonly ReportedIssue[],
): string {
  const errors = issues.filter((issue) => issue.severity === "error").length;
  const warnings = issues.length - errors;
  let summary: string;
  if (unusable) summary = "unusable";
  else if (errors > 0) summary = `${errors} error(s), ${warnings} warning(s)`;
  else if (warnings > 0) summary = `ok, ${warnings} warning(s)`;
  else summary = "ok";
  return [`${file}: ${summary}`, ...issues.map(renderIssue)].map((line) => `${line}\n`).join("");
}
