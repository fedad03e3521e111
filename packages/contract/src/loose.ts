/**
 * Defensive readers for documents that may not match their schema yet. Semantic checks run even
 * when the schema found problems, so that an author sees every problem at once; these helpers let
 * them read whatever is there without ever throwing.
 */

/** A plain JSON object (not null, not a list). */
export type Loose = Record<string, unknown>;

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object at `value`, or an empty object when it is anything else. */
export function record(value: unknown): Loose {
  return isRecord(value) ? value : {};
}

/** The list at `value`, or an empty list when it is anything else. */
export function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The string at `value`, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The integer at `value`, or undefined. */
export function integer(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) ? value : undefined;
}

/** The own property `key` of an object, never one inherited from its prototype. */
export function own(object: Loose, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Limits on a document's shape, checked before anything else reads it. */
export const DOCUMENT_LIMITS = {
  /** Deepest nesting of objects and lists. A real manifest nests about ten levels. */
  maxDepth: 32,
  /** Most values (objects, lists, scalars) in one document. */
  maxValues: 20_000,
  /** Most characters in all strings and keys together. A real manifest has about ten thousand. */
  maxTextChars: 1_000_000,
} as const;

/**
 * The first limit a document breaks, or undefined when it is within them. Never recurses.
 * `not_json` is a value no JSON or YAML parser produces (a bigint, function or symbol), which a
 * program calling the contract directly could still pass.
 */
export function findDocumentLimitBreach(
  document: unknown,
): "too_deep" | "too_large" | "not_json" | undefined {
  const stack: [unknown, number][] = [[document, 1]];
  let values = 0;
  let chars = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    values += 1;
    if (values > DOCUMENT_LIMITS.maxValues) return "too_large";
    if (typeof value === "string") chars += value.length;
    if (typeof value === "bigint" || typeof value === "function" || typeof value === "symbol")
      return "not_json";
    if (chars > DOCUMENT_LIMITS.maxTextChars) return "too_large";
    if (typeof value !== "object" || value === null) continue;
    if (depth > DOCUMENT_LIMITS.maxDepth) return "too_deep";
    const children = Array.isArray(value) ? value : Object.values(value);
    if (values + stack.length + children.length > DOCUMENT_LIMITS.maxValues) return "too_large";
    if (!Array.isArray(value)) for (const key of Object.keys(value)) chars += key.length;
    if (chars > DOCUMENT_LIMITS.maxTextChars) return "too_large";
    for (const child of children) stack.push([child, depth + 1]);
  }
  return undefined;
}
