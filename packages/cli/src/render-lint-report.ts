import type { LintReport } from "./lint-profiles.js";
import { renderFileIssues } from "./render-issues.js";

/**
 * The human lint report: each file's heading and issues and, for more than one file, a tally.
 *
 * @example renderLintText({ files: [{ file: "x.yaml", status: "ok", issues: [] }] }) // "x.yaml: ok\n"
 */
export function renderLintText(report: LintReport): string {
  const blocks = report.files.map((file) =>
    renderFileIssues(file.file, file.status === "unusable", file.issues),
  );
  if (report.files.length > 1) {
    const count = (status: string): number =>
      report.files.filter((file) => file.status === status).length;
    blocks.push(
      `${report.files.length} files: ${count("ok")} ok, ${count("invalid")} invalid, ${count("unusable")} unusable\n`,
    );
  }
  return blocks.join("");
}

/** The machine lint report: `{files: [{file, ok, issues}]}`, `ok` meaning no errors. */
export function renderLintJson(report: LintReport): string {
  const files = report.files.map((file) => ({
    file: file.file,
    ok: file.status === "ok",
    issues: file.issues,
  }));
  return `${JSON.stringify({ files }, null, 2)}\n`;
}
