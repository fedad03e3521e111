import { DOCUMENT_LIMITS, escapePointerToken } from "@gpuaas/contract";
import {
  type Document,
  isAlias,
  isCollection,
  isMap,
  isNode,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type YAMLError,
} from "yaml";
import {
  createInputIssue,
  type InputIssue,
  type InputIssueCode,
  type Position,
} from "./input-issues.js";
import { createLineIndex } from "./line-index.js";
import { parseJsonText } from "./parse-json-text.js";

/** The two text formats a manifest may be written in. */
export type DocumentFormat = "yaml" | "json";

/** A parsed manifest document: plain JSON data, plus a way back to where each value was written. */
export interface ParsedDocument {
  readonly format: DocumentFormat;
  /** The top level, always a plain object of plain JSON values. */
  readonly value: Record<string, unknown>;
  /** Where the value a JSON pointer names was written, or its closest written ancestor. */
  readonly locate: (pointer: string) => Position | undefined;
}

/** The outcome of {@link parseDocumentText}: a document, or every reason the text is unusable. */
export type DocumentParse =
  | { readonly ok: true; readonly document: ParsedDocument }
  | { readonly ok: false; readonly issues: readonly InputIssue[] };

/**
 * How much YAML alias expansion is allowed, in the `yaml` package's units (roughly, how many nodes
 * aliases may copy). Curated manifests use none; the bound defeats "billion laughs" documents.
 */
export const MAX_ALIAS_COUNT = 100;

/** Past this many syntax problems a file is reported with a count of the rest. */
const MAX_REPORTED_PROBLEMS = 10;

/**
 * Parses the text of a manifest into plain JSON data, refusing anything the contract could not
 * judge fairly: malformed text, duplicate keys, alias bombs, YAML tags, non-string keys, recursive
 * aliases, non-finite numbers and a top level that is not an object. Pure: no I/O.
 *
 * @example
 * const parsed = parseDocumentText("profile: {slug: demo}\n", "yaml");
 * if (parsed.ok) validateProfile(parsed.document.value);
 */
export function parseDocumentText(text: string, format: DocumentFormat): DocumentParse {
  return format === "json" ? parseJson(text) : parseYaml(text);
}

function parseJson(text: string): DocumentParse {
  const at = createLineIndex(text);
  const parsed = parseJsonText(text);
  if (!parsed.ok) {
    return failedWith(
      parsed.problems.map((problem) =>
        createInputIssue(
          problem.kind === "duplicate_key" ? "input.duplicate_key" : "input.syntax",
          problem.message,
          at(problem.offset),
          problem.pointer,
        ),
      ),
    );
  }
  const locate = (pointer: string): Position | undefined => {
    for (let prefix = pointer; ; prefix = prefix.slice(0, prefix.lastIndexOf("/"))) {
      const offset = parsed.offsets.get(prefix);
      if (offset !== undefined) return at(offset);
      if (prefix === "") return undefined;
    }
  };
  return toDocument("json", parsed.value, locate);
}

function parseYaml(text: string): DocumentParse {
  const at = createLineIndex(text);
  try {
    const doc = parseDocument(text, {
      uniqueKeys: true,
      prettyErrors: false,
      // Without this, explicit !!binary or !!timestamp tags would yield Buffers and Dates.
      resolveKnownTags: false,
      // The yaml package would print its own warnings to the console; they are reported below.
      logLevel: "error",
    });
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      return failedWith(
        problems
          .slice()
          .sort((a, b) => a.pos[0] - b.pos[0])
          .map((problem) => toInputIssue(problem, text, doc, at)),
      );
    }
    const badKey = findUnsupportedKey(doc);
    if (badKey !== undefined) {
      return failed(
        "input.unsupported_value",
        "a mapping key is a list, a mapping or an alias; keys are plain strings",
        at(badKey),
      );
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      if (!(error instanceof ReferenceError)) throw error;
      if (/resource exhaustion/i.test(error.message)) {
        return failed(
          "input.alias_limit",
          `YAML aliases expand beyond the limit of ${MAX_ALIAS_COUNT} (an alias bomb?); write the values out`,
        );
      }
      return failed("input.syntax", error.message, findFirstAlias(doc, at));
    }
    if (doc.contents === null) {
      return failed(
        "input.not_object",
        "the document is empty; a profile manifest is a mapping of keys to values",
      );
    }
    return toDocument("yaml", value, (pointer) => locateInYaml(doc, pointer, at));
  } catch (error) {
    // The yaml package composes and converts nodes recursively; a document nested deeply enough
    // exhausts the stack before any limit of ours can see it.
    if (error instanceof RangeError) {
      return failed("input.too_deep", "the document nests too deeply to parse");
    }
    throw error;
  }
}

function toInputIssue(
  problem: YAMLError,
  text: string,
  doc: Document.Parsed,
  at: (offset: number) => Position,
): InputIssue {
  const position = at(problem.pos[0]);
  switch (problem.code) {
    case "DUPLICATE_KEY": {
      const key = findKeyAt(doc, problem.pos[0]);
      return key === undefined
        ? createInputIssue("input.duplicate_key", "a mapping repeats a key", position)
        : createInputIssue(
            "input.duplicate_key",
            `duplicate key ${JSON.stringify(key.name)}`,
            position,
            key.pointer,
          );
    }
    case "MULTIPLE_DOCS":
      return createInputIssue(
        "input.syntax",
        "a second YAML document starts here; a profile manifest is a single document",
        position,
      );
    case "TAG_RESOLVE_FAILED":
      return createInputIssue(
        "input.unsupported_value",
        `YAML tag ${text.slice(...problem.pos)} is not supported; a profile holds only strings, numbers, booleans, null, lists and mappings`,
        position,
      );
    case "RESOURCE_EXHAUSTION":
      return createInputIssue("input.too_deep", "the document nests too deeply to parse", position);
    default:
      return createInputIssue("input.syntax", problem.message, position);
  }
}

function failed(code: InputIssueCode, message: string, position?: Position): DocumentParse {
  return { ok: false, issues: [createInputIssue(code, message, position)] };
}

/** Reports the first problems of a file and a count of the rest; one file can hold thousands. */
function failedWith(issues: readonly InputIssue[]): DocumentParse {
  const unique = issues.filter(
    (issue, index) =>
      issues.findIndex(
        (other) =>
          other.code === issue.code &&
          other.message === issue.message &&
          other.line === issue.line &&
          other.column === issue.column,
      ) === index,
  );
  const shown = unique.slice(0, MAX_REPORTED_PROBLEMS);
  const firstHidden = unique[MAX_REPORTED_PROBLEMS];
  if (firstHidden === undefined) return { ok: false, issues: shown };
  const rest = unique.length - MAX_REPORTED_PROBLEMS;
  return {
    ok: false,
    issues: [
      ...shown,
      createInputIssue(firstHidden.code, `${rest} more problem(s) in this file are not shown`),
    ],
  };
}

function toDocument(
  format: DocumentFormat,
  value: unknown,
  locate: (pointer: string) => Position | undefined,
): DocumentParse {
  const unsupported = findUnsupportedValue(value);
  if (unsupported !== undefined) {
    return {
      ok: false,
      issues: [
        createInputIssue(
          "input.unsupported_value",
          unsupported.message,
          locate(unsupported.pointer),
          unsupported.pointer,
        ),
      ],
    };
  }
  if (!isPlainObject(value)) {
    return failed(
      "input.not_object",
      `the top level is ${describeKind(value)}; a profile manifest is a mapping of keys to values`,
      locate(""),
    );
  }
  return { ok: true, document: { format, value, locate } };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.getPrototypeOf(value) === Object.prototype
  );
}

function describeKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

interface UnsupportedValue {
  readonly pointer: string;
  readonly message: string;
}

/**
 * The first value JSON cannot represent, found without recursion. The walk stops at the
 * contract's document limits: past them the contract reports the document as too deep or too
 * large, so nothing there is ever serialized.
 */
function findUnsupportedValue(root: unknown): UnsupportedValue | undefined {
  type Step =
    | { readonly leave: false; readonly value: unknown; readonly pointer: string; depth: number }
    | { readonly leave: true; readonly value: object };
  const onPath = new Set<object>();
  const stack: Step[] = [{ leave: false, value: root, pointer: "", depth: 1 }];
  let visited = 0;
  while (stack.length > 0) {
    const step = stack.pop() as Step;
    if (step.leave) {
      onPath.delete(step.value);
      continue;
    }
    visited += 1;
    if (visited > DOCUMENT_LIMITS.maxValues) return undefined;
    const { value, pointer, depth } = step;
    if (typeof value === "number" && !Number.isFinite(value)) {
      return { pointer, message: "a number is infinite or not a number; JSON cannot hold it" };
    }
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) continue;
    if (typeof value !== "object" || (!Array.isArray(value) && !isPlainObject(value))) {
      return { pointer, message: "a value is not plain JSON data" };
    }
    if (onPath.has(value)) {
      return {
        pointer,
        message: "an alias refers to a mapping or list that contains it; the document is infinite",
      };
    }
    if (depth > DOCUMENT_LIMITS.maxDepth) continue;
    onPath.add(value);
    stack.push({ leave: true, value });
    const children: [string | number, unknown][] = Array.isArray(value)
      ? value.map((child, index) => [index, child])
      : Object.entries(value);
    for (let index = children.length - 1; index >= 0; index -= 1) {
      const [token, child] = children[index] as [string | number, unknown];
      stack.push({
        leave: false,
        value: child,
        pointer: `${pointer}/${escapePointerToken(token)}`,
        depth: depth + 1,
      });
    }
  }
  return undefined;
}

function findUnsupportedKey(doc: Document.Parsed): number | undefined {
  let offset: number | undefined;
  visit(doc, {
    Pair(_key, pair) {
      if (isCollection(pair.key) || isAlias(pair.key)) {
        offset = rangeStart(pair.key) ?? 0;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return offset;
}

function findFirstAlias(
  doc: Document.Parsed,
  at: (offset: number) => Position,
): Position | undefined {
  let offset: number | undefined;
  visit(doc, {
    Alias(_key, alias) {
      offset = rangeStart(alias);
      return visit.BREAK;
    },
  });
  return offset === undefined ? undefined : at(offset);
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? (node.range?.[0] ?? undefined) : undefined;
}

/** The key written at `offset` and the JSON pointer of its member, found without recursion. */
function findKeyAt(
  doc: Document.Parsed,
  offset: number,
): { name: string; pointer: string } | undefined {
  const stack: [unknown, string][] = [[doc.contents, ""]];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop() as [unknown, string];
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const name = String(pair.key.value);
        const member = `${pointer}/${escapePointerToken(name)}`;
        if (rangeStart(pair.key) === offset) return { name, pointer: member };
        stack.push([pair.value, member]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        stack.push([item, `${pointer}/${index}`]);
      });
    }
  }
  return undefined;
}

function locateInYaml(
  doc: Document.Parsed,
  pointer: string,
  at: (offset: number) => Position,
): Position | undefined {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  const tokens =
    pointer === ""
      ? []
      : pointer
          .slice(1)
          .split("/")
          .map((token) => token.replaceAll("~1", "/").replaceAll("~0", "~"));
  for (const token of tokens) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === token,
      );
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && /^(0|[1-9][0-9]*)$/.test(token)) {
      const item = node.items[Number(token)];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === undefined ? undefined : at(offset);
}
