import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { INPUT_ISSUE_CODES } from "./input-issues.js";

describe("INPUT_ISSUE_CODES", () => {
  it("lists exactly the codes the README documents", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const documented = [...readme.matchAll(/^\| `(input\.[a-z_]+)` *\|/gm)].map(
      (match) => match[1],
    );
    assert.deepEqual(documented, Object.keys(INPUT_ISSUE_CODES));
  });
});
