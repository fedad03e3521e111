export { checkProfileFile, type ProfileFileCheck } from "./check-profile-file.js";
export type { CliIo } from "./cli-io.js";
export { EXIT_CODES, type ExitCode } from "./exit-codes.js";
export { type DocumentPath, expandDocumentPaths } from "./expand-document-paths.js";
export { type GateOutcome, gateProfileFile, toGateExitCode } from "./gate-profile-file.js";
export {
  createInputIssue,
  INPUT_ISSUE_CODES,
  type InputIssue,
  type InputIssueCode,
  type Position,
} from "./input-issues.js";
export {
  type FileLint,
  type LintReport,
  type LintStatus,
  lintProfiles,
  toLintExitCode,
} from "./lint-profiles.js";
export {
  DOCUMENT_EXTENSIONS,
  type DocumentLoad,
  type LoadDocumentOptions,
  loadDocument,
  MAX_DOCUMENT_BYTES,
  toDocumentFormat,
  toFileIssue,
} from "./load-document.js";
export { locateIssues, type ReportedIssue } from "./locate-issues.js";
export {
  type DocumentFormat,
  type DocumentParse,
  MAX_ALIAS_COUNT,
  type ParsedDocument,
  parseDocumentText,
} from "./parse-document-text.js";
export { type RunCliOptions, runCli } from "./run-cli.js";
