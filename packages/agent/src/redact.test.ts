import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { createRedactor, REDACTED, redactDeep, toExcerpt } from "./redact.js";

describe("createRedactor", () => {
  it("removes the task's secret in every spelling", () => {
    const secret = "tok-3f9a0c1d2e";
    const redact = createRedactor([secret], ["gpuaas"]);
    const b64 = Buffer.from(secret).toString("base64");
    const basic = Buffer.from(`gpuaas:${secret}`).toString("base64");
    const out = redact(
      `a ${secret} b ${b64} c {"auth":"${basic}"} d ${encodeURIComponent(secret)}`,
    );
    for (const form of [secret, b64, basic]) assert.ok(!out.includes(form), out);
  });

  it("removes credential shapes whoever they belong to", () => {
    const redact = createRedactor();
    const cases: [string, string][] = [
      ["Authorization: Bearer abc.def-ghi_jkl", `Authorization: Bearer ${REDACTED}`],
      ["authorization: basic dXNlcjpwYXNzd29yZA==", `authorization: basic ${REDACTED}`],
      ["token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl end", `token ${REDACTED} end`],
      [
        "pip from https://user:s3cretpw@pypi.internal/simple",
        `pip from https://${REDACTED}@pypi.internal/simple`,
      ],
      [
        "open http://127.0.0.1:8888/lab?token=0123456789abcdef",
        `open http://127.0.0.1:8888/lab?token=${REDACTED}`,
      ],
      ["PASSWORD=hunter2hunter2", `PASSWORD=${REDACTED}`],
      ["secret gpuaas_pull_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg", `secret ${REDACTED}`],
    ];
    for (const [input, expected] of cases) assert.equal(redact(input), expected);
  });

  it("leaves ordinary text and token fingerprints alone", () => {
    const redact = createRedactor();
    const text = "GET /api 200 in 3 ms; pulled with token:ab12cd; basic setup done";
    assert.equal(redact(text), text);
  });

  it("never lets a secret through, wherever it sits in the text (property)", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{8,40}$/),
        fc.string({ maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        (secret, before, after) => {
          const out = createRedactor([secret])(`${before}${secret}${after}`);
          assert.ok(!out.includes(secret));
        },
      ),
    );
  });
});

describe("toExcerpt", () => {
  it("keeps the end of long text within the byte bound, marked as cut", () => {
    const text = `${"x".repeat(10_000)}THE END`;
    const excerpt = toExcerpt(text, 4096);
    assert.ok(excerpt.endsWith("THE END"));
    assert.ok(excerpt.startsWith("[… "));
    assert.ok(Buffer.byteLength(excerpt) <= 4096 + 32);
    assert.equal(toExcerpt("short", 4096), "short");
  });

  it("does not cut a multi-byte character in half", () => {
    const excerpt = toExcerpt("é".repeat(100), 51);
    assert.ok(!excerpt.includes("\uFFFD"));
  });
});

describe("redactDeep", () => {
  it("redacts every string of a nested value and keeps the shape", () => {
    const value = { a: ["Bearer abcdefghij", 3, { b: "token=zzzzzzzzzz" }], c: null };
    assert.deepEqual(redactDeep(value, createRedactor()), {
      a: [`Bearer ${REDACTED}`, 3, { b: `token=${REDACTED}` }],
      c: null,
    });
  });
});
