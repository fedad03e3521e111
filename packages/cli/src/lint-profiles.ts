import { checkProfileFile } from "./check-profile-file.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";
import { expandDocumentPaths } from "./expand-document-paths.js";
import type { LoadDocumentOptions } from "./load-document.js";
import type { ReportedIssue } from "./locate-issues.js";

/** How one file fared: valid (warnings allowed), breaking the contract, or not usable at all. */
export type LintStatus = "ok" | "invalid" | "unusable";

/** The lint result of one file. */
export interface FileLint {
  readonly file: string;
  readonly status: LintStatus;
  readonly issues: readonly ReportedIssue[];
}

/** The lint result of every file, in the order the paths were given (directories sorted). */
export interface LintReport {
  readonly files: readonly FileLint[];
}

/**
 * Lints manifest files and directories of them: every file is loaded and validated, and every
 * problem of every file is reported; one bad file never stops the others.
 *
 * @example const report = await lintProfiles(["profiles/"]);
 */
export async function lintProfiles(
  paths: readonly string[],
  options: LoadDocumentOptions = {},
): Promise<LintReport> {
  const files: FileLint[] = [];
  for (const { file, issue } of await expandDocumentPaths(paths)) {
    if (issue !== undefined) {
      files.push({ file, status: "unusable", issues: [issue] });
      continue;
    }
    const check = await checkProfileFile(file, options);
    files.push({
      file,
      status: check.status === "valid" ? "ok" : check.status,
      issues: check.issues,
    });
  }
  return { files };
}

/** 2 when any input is unusable, else 1 when any file breaks the contract, else 0. */
export function toLintExitCode(report: LintReport): ExitCode {
  if (report.files.some((file) => file.status === "unusable")) return EXIT_CODES.usage;
  if (report.files.some((file) => file.status === "invalid")) return EXIT_CODES.failed;
  return EXIT_CODES.ok;
}
