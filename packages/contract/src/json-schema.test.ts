import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSchemaCompiler, profileKeywordCodes, toIssues } from "./json-schema.js";
import { mutate } from "./test-fixtures.js";
import { validateProfile } from "./validate-profile.js";

describe("createSchemaCompiler", () => {
  it("reuses the validator of a schema with the same content", () => {
    const compile = createSchemaCompiler(4);
    const schema = { type: "integer", minimum: 1 };
    assert.equal(compile(schema), compile(structuredClone(schema)));
  });

  it("is not changed by a caller mutating its schema object afterwards", () => {
    const compile = createSchemaCompiler(4);
    const schema: Record<string, unknown> = { type: "integer", minimum: 1 };
    const validate = compile(schema);
    schema.minimum = 100;
    assert.equal(validate(5), true);
    assert.equal(compile(schema)(5), false);
  });

  it("keeps at most its limit, dropping the least recently used", () => {
    const compile = createSchemaCompiler(2);
    const schema = (minimum: number) => ({ type: "integer", minimum });
    const one = compile(schema(1));
    const two = compile(schema(2));
    assert.equal(compile(schema(1)), one, "a hit refreshes the entry");
    compile(schema(3));
    assert.equal(compile(schema(1)), one, "the recently used entry stays");
    assert.notEqual(compile(schema(2)), two, "the least recently used entry was dropped");
  });

  it("ignores keywords that do not apply to the type, as JSON Schema does", () => {
    const compile = createSchemaCompiler();
    assert.equal(compile({ type: "string", minimum: 5 })("x"), true);
  });

  it("throws on a schema it cannot compile and stays usable", () => {
    const compile = createSchemaCompiler();
    assert.throws(() => compile({ type: "string", pattern: "(" }));
    assert.equal(compile({ type: "string", pattern: "^a" })("abc"), true);
  });
});

describe("toIssues", () => {
  it("reports a value of the wrong type once, not also against its enum", () => {
    const validate = createSchemaCompiler()({ type: "string", enum: ["a", "b"] });
    validate(3);
    assert.deepEqual(
      toIssues(validate.errors, "/x", profileKeywordCodes).map((issue) => issue.code),
      ["profile.schema.type"],
    );
  });

  it("escapes keys in pointers", () => {
    const result = validateProfile(mutate("/execution/container_env/A~B", "x"));
    assert.deepEqual(
      result.issues.map((issue) => [issue.pointer, issue.code]),
      [["/execution/container_env/A~0B", "profile.schema.pattern"]],
    );
    const slash = validateProfile(mutate("/network/endpoints/0/a~1b", 1));
    assert.deepEqual(
      slash.issues.map((issue) => issue.pointer),
      ["/network/endpoints/0/a~1b"],
    );
  });

  it("names the allowed keys of a small closed object", () => {
    const result = validateProfile(mutate("/resources/gpu/count", 1));
    assert.match(result.issues[0]?.message ?? "", /allowed keys: min_count, default_count/);
  });
});
