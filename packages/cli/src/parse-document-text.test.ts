import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { type DocumentFormat, parseDocumentText } from "./parse-document-text.js";

function parsedValue(text: string, format: DocumentFormat = "yaml"): unknown {
  const parsed = parseDocumentText(text, format);
  assert.ok(parsed.ok, `expected it to parse: ${JSON.stringify(parsed)}`);
  return parsed.document.value;
}

/** The issues of text that must not parse, without their messages (those may be reworded). */
function issuesOf(text: string, format: DocumentFormat = "yaml"): object[] {
  const parsed = parseDocumentText(text, format);
  assert.ok(!parsed.ok, "expected the text to be refused");
  return parsed.issues.map(({ message: _message, ...rest }) => rest);
}

const at = (line: number, column: number) => ({ line, column });
const error = (code: string, pointer = "", position = {}) => ({
  pointer,
  code,
  severity: "error",
  ...position,
});

describe("parseDocumentText", () => {
  it("turns YAML and JSON into the same plain data", () => {
    const yaml = parsedValue("profile:\n  slug: demo\n  tags: [a, 1, true, null]\n");
    const json = parsedValue('{"profile": {"slug": "demo", "tags": ["a", 1, true, null]}}', "json");
    assert.deepEqual(yaml, json);
    // YAML 1.2: "yes" and "on" are strings, not booleans.
    assert.deepEqual(parsedValue("a: yes\nb: on\nc: 0x10\n"), { a: "yes", b: "on", c: 16 });
  });

  it("reports malformed YAML with its line and column", () => {
    assert.deepEqual(issuesOf("a: [1, 2\nb: 3\n"), [error("input.syntax", "", at(2, 1))]);
    assert.deepEqual(issuesOf("a:\n  b: 1\n c: 2\n"), [error("input.syntax", "", at(3, 1))]);
    assert.deepEqual(issuesOf("a: 1\n---\nb: 2\n"), [error("input.syntax", "", at(2, 1))]);
  });

  it("reports every duplicate key with the pointer of its member", () => {
    assert.deepEqual(issuesOf("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"), [
      error("input.duplicate_key", "/b/c", at(4, 3)),
      error("input.duplicate_key", "/a", at(5, 1)),
    ]);
    assert.deepEqual(issuesOf('{"a": {"b": 1, "b": 2}}', "json"), [
      error("input.duplicate_key", "/a/b", at(1, 16)),
    ]);
  });

  it("stops an alias bomb before it expands", () => {
    const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (const [name, previous] of [
      ["b", "a"],
      ["c", "b"],
      ["d", "c"],
      ["e", "d"],
      ["f", "e"],
      ["g", "f"],
    ]) {
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    assert.deepEqual(issuesOf(`${lines.join("\n")}\n`), [error("input.alias_limit")]);
    // A few ordinary aliases are fine.
    assert.deepEqual(parsedValue("base: &b {x: 1}\ncopy: *b\n"), {
      base: { x: 1 },
      copy: { x: 1 },
    });
  });

  it("refuses what JSON cannot represent", () => {
    assert.deepEqual(issuesOf("a: &x [1, *x]\n"), [
      error("input.unsupported_value", "/a/1", at(1, 11)),
    ]);
    assert.deepEqual(issuesOf("a: !!binary aGk=\n"), [
      error("input.unsupported_value", "", at(1, 4)),
    ]);
    assert.deepEqual(issuesOf("a: !custom x\n"), [error("input.unsupported_value", "", at(1, 4))]);
    assert.deepEqual(issuesOf("? [a, b]\n: c\n"), [error("input.unsupported_value", "", at(1, 3))]);
    assert.deepEqual(issuesOf("a: .inf\n"), [error("input.unsupported_value", "/a", at(1, 1))]);
    assert.deepEqual(issuesOf('{"a": [1e999]}', "json"), [
      error("input.unsupported_value", "/a/0", at(1, 8)),
    ]);
    assert.deepEqual(issuesOf("a: *missing\n"), [error("input.syntax", "", at(1, 4))]);
  });

  it("refuses a top level that is not a mapping", () => {
    assert.deepEqual(issuesOf("- a\n- b\n"), [error("input.not_object", "", at(1, 1))]);
    assert.deepEqual(issuesOf("just text\n"), [error("input.not_object", "", at(1, 1))]);
    assert.deepEqual(issuesOf("null\n"), [error("input.not_object", "", at(1, 1))]);
    assert.deepEqual(issuesOf("# nothing but a comment\n"), [error("input.not_object")]);
    assert.deepEqual(issuesOf("[]", "json"), [error("input.not_object", "", at(1, 1))]);
    assert.deepEqual(issuesOf("", "json"), [error("input.syntax", "", at(1, 1))]);
  });

  it("reports nesting too deep to parse instead of overflowing the stack", () => {
    const deep = `a: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`;
    const parsed = parseDocumentText(deep, "yaml");
    assert.ok(!parsed.ok);
    // Where the stack ran out depends on the stack size, so only the code is certain.
    assert.equal(parsed.issues[0]?.code, "input.too_deep");
  });

  it("reports the first ten problems of a file and a count of the rest", () => {
    const text = Array.from({ length: 25 }, (_, index) => `k${index}: 1\nk${index}: 2\n`).join("");
    const parsed = parseDocumentText(text, "yaml");
    assert.ok(!parsed.ok);
    assert.equal(parsed.issues.length, 11);
    assert.equal(parsed.issues[10]?.message, "15 more problem(s) in this file are not shown");
  });

  it("locates a pointer, or its closest written ancestor", () => {
    const text = "profile:\n  slug: demo\nlist:\n  - a\n  - name: b\n";
    for (const [format, source] of [
      ["yaml", text],
      ["json", JSON.stringify(parsedValue(text), null, 2)],
    ] as const) {
      const parsed = parseDocumentText(source, format);
      assert.ok(parsed.ok);
      const { locate } = parsed.document;
      const expected =
        format === "yaml"
          ? [at(1, 1), at(2, 3), at(2, 3), at(5, 5), at(5, 5)]
          : [at(1, 1), at(3, 5), at(3, 5), at(7, 5), at(8, 7)];
      assert.deepEqual(
        ["", "/profile/slug", "/profile/slug/missing", "/list/1", "/list/1/name"].map(locate),
        expected,
        format,
      );
    }
  });

  it("reads back any object YAML or JSON writes (property)", () => {
    const object = fc.dictionary(fc.string(), fc.jsonValue());
    fc.assert(
      fc.property(object, (value) => {
        const expected = JSON.parse(JSON.stringify(value));
        assert.deepEqual(parsedValue(stringify(expected), "yaml"), expected);
        assert.deepEqual(parsedValue(JSON.stringify(expected), "json"), expected);
      }),
    );
  });

  it("never throws, whatever the text (property)", () => {
    const yamlish = fc.string({
      unit: fc.constantFrom(..."ab:-[]{},&*!?|>#'\" \n\t".split(""), "- ", ": ", "&a ", "*a"),
      maxLength: 60,
    });
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ unit: "binary" })), (text) => {
        parseDocumentText(text, "yaml");
        parseDocumentText(text, "json");
      }),
      { numRuns: 2000 },
    );
  });
});
