import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseJsonText } from "./parse-json-text.js";

function parsedValue(text: string): unknown {
  const parsed = parseJsonText(text);
  assert.ok(parsed.ok, `expected ${JSON.stringify(text)} to parse`);
  return parsed.value;
}

function problemsOf(text: string): { kind: string; message: string; offset: number }[] {
  const parsed = parseJsonText(text);
  assert.ok(!parsed.ok, `expected ${JSON.stringify(text)} not to parse`);
  return parsed.problems.map(({ kind, message, offset }) => ({ kind, message, offset }));
}

describe("parseJsonText", () => {
  it("parses every kind of JSON value as JSON.parse does", () => {
    const text = '{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n\\"\\/"], "b": {}, "c": []}';
    assert.deepEqual(parsedValue(text), JSON.parse(text));
    assert.equal(parsedValue(" 42 "), 42);
    assert.equal(parsedValue('"only"'), "only");
  });

  it("reports every duplicate key with its position and pointer", () => {
    const parsed = parseJsonText('{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}');
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.problems, [
      { kind: "duplicate_key", message: 'duplicate key "c"', offset: 23, pointer: "/b/c" },
      { kind: "duplicate_key", message: 'duplicate key "a"', offset: 32, pointer: "/a" },
    ]);
  });

  it("keeps a __proto__ key as an own property instead of replacing the prototype", () => {
    const value = parsedValue('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.deepEqual(Object.keys(value), ["__proto__"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("records where each value starts, an object member at its key", () => {
    const parsed = parseJsonText('{\n  "a": [10, {"b~/": 2}]\n}');
    assert.ok(parsed.ok);
    assert.deepEqual(Object.fromEntries(parsed.offsets), {
      "": 0,
      "/a": 4,
      "/a/0": 10,
      "/a/1": 14,
      "/a/1/b~0~1": 15,
    });
  });

  it("names the first syntax error and where it is, without quoting the input", () => {
    const cases: [string, string, number][] = [
      ["", "expected a value, found the end of the text", 0],
      ['{"a": 1,}', 'expected a quoted key, found "}"', 8],
      ['{"a" 1}', 'expected ":" after the key, found "1"', 5],
      ['{"a": 1', 'expected "," or "}", found the end of the text', 7],
      ["[1 2]", 'expected "," or "]", found "2"', 3],
      ["[01]", 'expected "," or "]", found "1"', 2],
      ['{"a": tru}', 'expected a value, found "t"', 6],
      ["[-]", "invalid number", 1],
      ['"abc', "unterminated string", 0],
      ['"a\nb"', "control character in a string; write it as an escape", 2],
      ['"\\x"', "invalid escape in a string", 1],
      ['"\\u12"', "\\u is followed by four hex digits", 1],
      ["{} {}", 'unexpected "{" after the document', 3],
      ["// comment\n{}", 'expected a value, found "/"', 0],
      ["{'a': 1}", 'expected a quoted key, found "\'"', 1],
      ["\uFEFF{}", 'expected a value, found "\uFEFF"', 0],
    ];
    for (const [text, message, offset] of cases) {
      assert.deepEqual(problemsOf(text), [{ kind: "syntax", message, offset }], text);
    }
  });

  it("survives nesting far deeper than any call stack", () => {
    const depth = 200_000;
    assert.equal(parseJsonText("[".repeat(depth) + "]".repeat(depth)).ok, true);
    assert.deepEqual(problemsOf("[".repeat(depth)), [
      {
        kind: "syntax",
        message: "expected a value, found the end of the text",
        offset: depth,
      },
    ]);
  });

  it("reads back what JSON.stringify writes (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 2, "\t"), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepEqual(parsedValue(text), JSON.parse(text));
      }),
    );
  });

  it("accepts exactly what JSON.parse accepts, duplicates aside (property)", () => {
    const alphabet = fc.constantFrom(
      ...'{}[],:"\\ \n\tabefilnrstu0123456789-+.eE/'.split(""),
      "true",
      "null",
      '"a"',
      '"b"',
    );
    // Valid JSON with one character removed is mostly invalid in interesting, nearly-right ways.
    const damaged = fc.tuple(fc.jsonValue(), fc.nat()).map(([value, cut]) => {
      const valid = JSON.stringify(value, null, 1);
      const at = cut % (valid.length + 1);
      return valid.slice(0, at) + valid.slice(at + 1);
    });
    const text = fc.oneof(
      fc.string({ unit: alphabet, maxLength: 40 }),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      damaged,
    );
    fc.assert(
      fc.property(text, (candidate) => {
        let expected: { ok: true; value: unknown } | { ok: false };
        try {
          expected = { ok: true, value: JSON.parse(candidate) };
        } catch {
          expected = { ok: false };
        }
        const parsed = parseJsonText(candidate);
        if (parsed.ok) {
          assert.ok(expected.ok, `accepted invalid JSON ${JSON.stringify(candidate)}`);
          assert.deepEqual(parsed.value, expected.value);
        } else if (parsed.problems.every((problem) => problem.kind === "duplicate_key")) {
          assert.ok(expected.ok, "only duplicate keys were reported for invalid JSON");
        } else {
          assert.ok(!expected.ok, `refused valid JSON ${JSON.stringify(candidate)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws, whatever the text (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        parseJsonText(text);
      }),
    );
  });
});
