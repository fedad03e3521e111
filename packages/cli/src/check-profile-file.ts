import { validateProfile, type WorkloadProfile } from "@gpuaas/contract";
import { type LoadDocumentOptions, loadDocument } from "./load-document.js";
import { locateIssues, type ReportedIssue } from "./locate-issues.js";
import type { ParsedDocument } from "./parse-document-text.js";

/**
 * What checking one manifest file found: it cannot be used at all, it breaks the contract, or it
 * is valid (possibly with warnings) and normalizes to a profile.
 */
export type ProfileFileCheck =
  | {
      readonly status: "unusable" | "invalid";
      readonly file: string;
      readonly issues: readonly ReportedIssue[];
    }
  | {
      readonly status: "valid";
      readonly file: string;
      readonly issues: readonly ReportedIssue[];
      readonly document: ParsedDocument;
      readonly profile: WorkloadProfile;
    };

/**
 * Loads a manifest file and validates it against the contract, locating every issue in the file.
 *
 * @example
 * const check = await checkProfileFile("profiles/jupyterlab.yaml");
 * if (check.status === "valid") console.log(check.profile.profile.slug);
 */
export async function checkProfileFile(
  file: string,
  options: LoadDocumentOptions = {},
): Promise<ProfileFileCheck> {
  const loaded = await loadDocument(file, options);
  if (!loaded.ok) return { status: "unusable", file, issues: loaded.issues };
  const { document } = loaded;
  const validation = validateProfile(document.value);
  const issues = locateIssues(validation.issues, document.locate);
  if (!validation.ok || validation.profile === undefined) {
    return { status: "invalid", file, issues };
  }
  return { status: "valid", file, issues, document, profile: validation.profile };
}
