import type { GateOutcome } from "./gate-profile-file.js";
import { renderFileIssues } from "./render-issues.js";

/**
 * The human gate report: the file's heading and issues, a table of the ten points (point, status,
 * title, reason) and a verdict line.
 */
export function renderGateText(outcome: GateOutcome): string {
  const heading = renderFileIssues(outcome.file, outcome.status === "unusable", outcome.issues);
  if (outcome.status !== "checked") {
    const why =
      outcome.status === "unusable"
        ? "not checked (the file cannot be used)"
        : "not ready (the manifest does not validate)";
    return `${heading}verdict: ${why}\n`;
  }
  const rows = [
    ["point", "status", "title", "reason"],
    ...outcome.points.map((point) => [
      String(point.point),
      point.status,
      point.title,
      point.reason,
    ]),
  ];
  const widths = [0, 1, 2].map((column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  const table = rows.map(
    (row) =>
      `  ${row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
  );
  const count = (status: string): number =>
    outcome.points.filter((point) => point.status === status).length;
  const tally = `${count("pass")} pass, ${count("fail")} fail, ${count("not_applicable")} not applicable`;
  return `${heading}${table.join("")}verdict: ${outcome.ready ? "ready" : "not ready"} (${tally})\n`;
}

/** The machine gate report: `{file, ready, points, issues}`; `points` is empty when not judged. */
export function renderGateJson(outcome: GateOutcome): string {
  const body = {
    file: outcome.file,
    ready: outcome.status === "checked" && outcome.ready,
    points: outcome.status === "checked" ? outcome.points : [],
    issues: outcome.issues,
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}
