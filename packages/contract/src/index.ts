export {
  checkAuthoringGate,
  type GatePoint,
  type GateReport,
  type GateStatus,
} from "./authoring-gate.js";
export {
  createIssue,
  escapePointerToken,
  hasErrors,
  ISSUE_CODES,
  type Issue,
  type IssueCode,
  type IssueSeverity,
  toPointer,
} from "./issues.js";
export { DOCUMENT_LIMITS } from "./loose.js";
export { normalizeEndpoint } from "./normalize-profile.js";
export {
  MAX_PYTHON_PACKAGES,
  type PackageList,
  type PackageProblem,
  parsePythonPackages,
} from "./pip-requirements.js";
export { expandPlaceholders, findPlaceholders } from "./placeholders.js";
export { PROFILE_SCHEMA, PROFILE_SCHEMA_ID } from "./profile-schema.js";
export {
  type LaunchRequest,
  type LaunchResolution,
  type ResolvedEndpoint,
  type ResolvedLaunch,
  type ResolvedMount,
  resolveLaunch,
} from "./resolve-launch.js";
export {
  type AllocationShape,
  type ArtifactCandidate,
  type ArtifactRecord,
  type ArtifactSelection,
  LAUNCHABLE_ARTIFACT_STATES,
  selectArtifact,
} from "./select-artifact.js";
export * from "./types.js";
export { type ProfileValidation, validateProfile } from "./validate-profile.js";
