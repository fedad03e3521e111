import { checkAuthoringGate, type GatePoint } from "@gpuaas/contract";
import { checkProfileFile } from "./check-profile-file.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";
import type { LoadDocumentOptions } from "./load-document.js";
import type { ReportedIssue } from "./locate-issues.js";

/** What the authoring gate found for one file; points are judged only for a valid manifest. */
export type GateOutcome =
  | {
      readonly status: "unusable" | "invalid";
      readonly file: string;
      readonly issues: readonly ReportedIssue[];
    }
  | {
      readonly status: "checked";
      readonly file: string;
      readonly issues: readonly ReportedIssue[];
      readonly ready: boolean;
      readonly points: readonly GatePoint[];
    };

/**
 * Checks a manifest file against the ten points of the config-only authoring gate.
 *
 * @example const outcome = await gateProfileFile("profiles/jupyterlab.yaml");
 */
export async function gateProfileFile(
  file: string,
  options: LoadDocumentOptions = {},
): Promise<GateOutcome> {
  const check = await checkProfileFile(file, options);
  if (check.status !== "valid") return check;
  const report = checkAuthoringGate(check.document.value);
  return {
    status: "checked",
    file,
    issues: check.issues,
    ready: report.ready,
    points: report.points,
  };
}

/** 0 when the gate is passed, 1 when it is not or the manifest is invalid, 2 when unusable. */
export function toGateExitCode(outcome: GateOutcome): ExitCode {
  if (outcome.status === "unusable") return EXIT_CODES.usage;
  return outcome.status === "checked" && outcome.ready ? EXIT_CODES.ok : EXIT_CODES.failed;
}
