import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { createIssue, escapePointerToken, type Issue, type IssueCode } from "./issues.js";

/** A JSON Schema validator compiled once and reused. */
export type CompiledSchema = ValidateFunction;

/** Creates the Ajv instance the contract uses: 2020-12, all errors, strict about schemas. */
export function createValidator(): InstanceType<typeof Ajv2020> {
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
  ajv.addVocabulary(["x-message"]);
  return ajv;
}

/** Compiles a schema, reusing the validator of an earlier schema with the same content. */
export type SchemaCompiler = (schema: Readonly<Record<string, unknown>>) => CompiledSchema;

/**
 * Creates a compiler for schemas that come from profiles (parameter schemas), not from the
 * contract itself.
 *
 * Ajv keeps every schema object it compiles for the life of the instance, so compiling a fresh
 * object per call grows memory without bound and costs milliseconds each time. This compiler
 * keys validators by the schema's content and keeps at most `limit` of them, removing the
 * least recently used from Ajv. Keywords that do not apply to the instance type (a `minimum` on
 * a string) are ignored, as JSON Schema says, instead of making the compile throw; the profile
 * validation reports them to the author.
 */
export function createSchemaCompiler(limit = 512): SchemaCompiler {
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    strictTypes: false,
    verbose: true,
    allowUnionTypes: true,
  });
  const compiled = new Map<string, { schema: object; validate: CompiledSchema }>();
  return (schema) => {
    const key = JSON.stringify(schema);
    const hit = compiled.get(key);
    if (hit !== undefined) {
      compiled.delete(key);
      compiled.set(key, hit);
      return hit.validate;
    }
    // Compile a private copy so a caller mutating its object later cannot change the cache.
    const own = JSON.parse(key) as object;
    let validate: CompiledSchema;
    try {
      validate = ajv.compile(own);
    } catch (error) {
      ajv.removeSchema(own);
      throw error;
    }
    compiled.set(key, { schema: own, validate });
    if (compiled.size > limit) {
      const [oldest, entry] = compiled.entries().next().value as [
        string,
        { schema: object; validate: CompiledSchema },
      ];
      compiled.delete(oldest);
      ajv.removeSchema(entry.schema);
    }
    return validate;
  };
}

/** Maps an Ajv keyword to the issue code reported for it. */
export type KeywordCodes = (keyword: string) => IssueCode;

/** The codes used for structural problems in a profile manifest. */
export const profileKeywordCodes: KeywordCodes = (keyword) => {
  switch (keyword) {
    case "required":
      return "profile.schema.required";
    case "additionalProperties":
    case "unevaluatedProperties":
      return "profile.schema.unknown_key";
    case "type":
      return "profile.schema.type";
    case "enum":
      return "profile.schema.enum";
    case "const":
      return "profile.schema.const";
    case "pattern":
    case "format":
      return "profile.schema.pattern";
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
    case "multipleOf":
      return "profile.schema.range";
    case "minLength":
    case "maxLength":
    case "minItems":
    case "maxItems":
    case "minProperties":
    case "maxProperties":
      return "profile.schema.length";
    case "uniqueItems":
      return "profile.schema.duplicate";
    default:
      return "profile.schema.invalid";
  }
};

const TYPE_WORDS: Record<string, string> = {
  object: "an object",
  array: "a list",
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  null: "null",
};

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  if (typeof value === "object") return "an object";
  return TYPE_WORDS[typeof value] ?? typeof value;
}

function formatValues(values: readonly unknown[]): string {
  const shown = values.slice(0, 12).map((value) => JSON.stringify(value));
  return values.length > 12 ? `${shown.join(", ")}, …` : shown.join(", ");
}

function messageFor(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const schema = error.parentSchema as Record<string, unknown> | undefined;
  switch (error.keyword) {
    case "required":
      return `missing required key "${String(params.missingProperty)}"`;
    case "additionalProperties": {
      const allowed = schema?.properties ? Object.keys(schema.properties as object) : [];
      const hint =
        allowed.length > 0 && allowed.length <= 16 ? `; allowed keys: ${allowed.join(", ")}` : "";
      return `unknown key "${String(params.additionalProperty)}"${hint}`;
    }
    case "type": {
      const wanted = String(params.type)
        .split(",")
        .map((type) => TYPE_WORDS[type] ?? type)
        .join(" or ");
      return `expected ${wanted}, got ${describeType(error.data)}`;
    }
    case "enum":
      return `must be one of ${formatValues((params.allowedValues as unknown[]) ?? [])}`;
    case "const":
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case "pattern": {
      const hint =
        typeof schema?.["x-message"] === "string"
          ? schema["x-message"]
          : "it does not have the required form";
      return `invalid value ${JSON.stringify(error.data)}: ${hint}`;
    }
    case "minimum":
      return `must be at least ${String(params.limit)}`;
    case "maximum":
      return `must be at most ${String(params.limit)}`;
    case "exclusiveMinimum":
      return `must be greater than ${String(params.limit)}`;
    case "exclusiveMaximum":
      return `must be less than ${String(params.limit)}`;
    case "minLength":
      return `must be at least ${String(params.limit)} characters long`;
    case "maxLength":
      return `must be at most ${String(params.limit)} characters long`;
    case "minItems":
      return `must have at least ${String(params.limit)} items`;
    case "maxItems":
      return `must have at most ${String(params.limit)} items`;
    case "minProperties":
      return `must have at least ${String(params.limit)} keys`;
    case "maxProperties":
      return `must have at most ${String(params.limit)} keys`;
    case "uniqueItems":
      return `items ${String(params.j)} and ${String(params.i)} are identical`;
    default:
      return error.message ?? "does not match the schema";
  }
}

/**
 * Turns Ajv errors into issues whose pointers are prefixed with `base`.
 *
 * A missing key or an unknown key points at the key itself; a bad property name points at that
 * property. Wrapper errors that only repeat an inner error (`propertyNames`, `if`) are dropped, and
 * so are the other errors of a value whose type is wrong.
 */
export function toIssues(
  errors: readonly ErrorObject[] | null | undefined,
  base: string,
  codes: KeywordCodes,
): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<string>();
  // A value of the wrong type also fails its enum, bounds or pattern; the type is the whole story.
  const wrongType = new Set(
    (errors ?? []).filter((error) => error.keyword === "type").map((error) => error.instancePath),
  );
  for (const error of errors ?? []) {
    if (error.keyword === "propertyNames" || error.keyword === "if") continue;
    if (error.keyword !== "type" && wrongType.has(error.instancePath)) continue;
    const params = error.params as Record<string, unknown>;
    let pointer = base + error.instancePath;
    let message = messageFor(error);
    if (error.keyword === "required")
      pointer += `/${escapePointerToken(String(params.missingProperty))}`;
    if (error.keyword === "additionalProperties") {
      pointer += `/${escapePointerToken(String(params.additionalProperty))}`;
    }
    const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
    if (propertyName !== undefined) {
      pointer += `/${escapePointerToken(propertyName)}`;
      message = `key ${JSON.stringify(propertyName)}: ${messageFor({ ...error, data: propertyName })}`;
    }
    const code = codes(error.keyword);
    const key = `${pointer}\u0000${code}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(createIssue(pointer, code, message));
  }
  return issues;
}
