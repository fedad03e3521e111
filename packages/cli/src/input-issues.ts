import type { IssueSeverity } from "@gpuaas/contract";

/**
 * The closed catalogue of codes for input the CLI cannot use at all (as opposed to a manifest that
 * parses but breaks the contract, which the contract's own codes describe).
 *
 * Codes are stable: scripts branch on them. The prose of a message may change; the code may not.
 */
export const INPUT_ISSUE_CODES = {
  "input.not_found": { summary: "The file or directory does not exist." },
  "input.unreadable": {
    summary: "The path cannot be read (permissions, not a regular file, I/O error).",
  },
  "input.unsupported_type": {
    summary: "The file name does not end in .yaml, .yml or .json.",
  },
  "input.empty_directory": {
    summary: "A directory holds no .yaml, .yml or .json file.",
  },
  "input.too_large": { summary: "The file is larger than the size bound (1 MiB)." },
  "input.encoding": { summary: "The file is not valid UTF-8." },
  "input.syntax": { summary: "The file is not well-formed YAML or JSON." },
  "input.duplicate_key": { summary: "A mapping repeats a key." },
  "input.too_deep": { summary: "The document nests too deeply to parse." },
  "input.alias_limit": {
    summary: "YAML aliases expand beyond the allowed amount (an alias bomb).",
  },
  "input.unsupported_value": {
    summary:
      "The document holds something JSON cannot represent: a YAML tag, a non-scalar key, a recursive alias or a non-finite number.",
  },
  "input.not_object": { summary: "The top level of the document is not a mapping/object." },
} as const satisfies Record<string, { summary: string }>;

/** A stable code from {@link INPUT_ISSUE_CODES}. */
export type InputIssueCode = keyof typeof INPUT_ISSUE_CODES;

/** A 1-based line and column (columns count UTF-16 code units, as editors do). */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/**
 * A problem with a file or document as a whole, shaped like the contract's `Issue` so both can be
 * reported side by side. Its severity is always `error`: unusable input cannot be linted.
 */
export interface InputIssue {
  readonly pointer: string;
  readonly code: InputIssueCode;
  readonly message: string;
  readonly severity: IssueSeverity;
  readonly line?: number;
  readonly column?: number;
}

/** Builds an input issue, at a position in the text when one is known. */
export function createInputIssue(
  code: InputIssueCode,
  message: string,
  position?: Position,
  pointer = "",
): InputIssue {
  const issue = { pointer, code, message, severity: "error" as const };
  return position === undefined ? issue : { ...issue, ...position };
}
