import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import {
  createIssue,
  escapePointerToken,
  hasErrors,
  ISSUE_CODES,
  type IssueCode,
  toPointer,
} from "./issues.js";

const CODES = Object.keys(ISSUE_CODES) as IssueCode[];
const AREAS = [...new Set(CODES.map((code) => code.split(".")[0]))];

describe("the issue catalogue", () => {
  it("names codes as area.thing[.detail] in lowercase snake case", () => {
    for (const code of CODES) assert.match(code, /^[a-z]+(?:\.[a-z][a-z_]*)+$/, code);
  });

  it("gives each code a severity and a one-sentence summary", () => {
    for (const [code, { severity, summary }] of Object.entries(ISSUE_CODES)) {
      assert.ok(severity === "error" || severity === "warning", code);
      assert.match(
        summary,
        /^[A-Za-z`].*\.$/,
        `${code}: a capitalized sentence ending in a period`,
      );
    }
  });

  it("covers the four areas and nothing else", () => {
    assert.deepEqual(AREAS, ["document", "profile", "launch", "artifact"]);
  });
});

describe("docs/errors.md", () => {
  const doc = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
  const rows = [...doc.matchAll(/^\| `([^`]+)` \| (error|warning) \| (.+) \|$/gm)].map(
    ([, code, severity, summary]) => ({ code, severity, summary: summary?.replaceAll("\\|", "|") }),
  );
  const regenerate =
    "regenerate it: npx tsc --build packages/contract && node scripts/gen-errors-doc.mjs";

  it("documents every code in the catalogue", () => {
    const documented = new Set(rows.map((row) => row.code));
    assert.deepEqual(
      CODES.filter((code) => !documented.has(code)),
      [],
      regenerate,
    );
  });

  it("documents only codes that exist, each once", () => {
    assert.deepEqual(
      rows.map((row) => row.code).filter((code) => !Object.hasOwn(ISSUE_CODES, code ?? "")),
      [],
      regenerate,
    );
    assert.equal(new Set(rows.map((row) => row.code)).size, rows.length);
  });

  it("gives each code its catalogue severity and summary", () => {
    for (const row of rows) {
      const entry = ISSUE_CODES[row.code as IssueCode];
      assert.deepEqual([row.severity, row.summary], [entry.severity, entry.summary], regenerate);
    }
  });
});

describe("codes used in the source", () => {
  const dir = new URL("./", import.meta.url);
  const sources = readdirSync(dir).filter(
    (name) => name.endsWith(".ts") && !name.endsWith(".test.ts") && name !== "test-fixtures.ts",
  );
  const literal = new RegExp(`["'\`]((?:${AREAS.join("|")})\\.[a-z][a-z_.]*)["'\`]`, "g");
  const used = new Map<string, string>();
  for (const name of sources) {
    for (const [, code] of readFileSync(new URL(name, dir), "utf8").matchAll(literal)) {
      if (code !== undefined) used.set(code, name);
    }
  }

  it("finds the codes in the contract's source files", () => {
    assert.ok(sources.includes("validate-profile.ts"));
    assert.ok(used.size > 50, `found ${used.size} codes`);
  });

  it("are all in the catalogue", () => {
    assert.deepEqual(
      [...used].filter(([code]) => !Object.hasOwn(ISSUE_CODES, code)),
      [],
    );
  });

  it("leave no catalogue code unused", () => {
    assert.deepEqual(
      CODES.filter((code) => !used.has(code)),
      [],
    );
  });
});

describe("issue helpers", () => {
  it("createIssue takes the severity from the catalogue", () => {
    assert.deepEqual(createIssue("/a", "profile.validation.no_readiness", "m"), {
      pointer: "/a",
      code: "profile.validation.no_readiness",
      message: "m",
      severity: "warning",
    });
    assert.equal(createIssue("", "document.not_object", "m").severity, "error");
  });

  it("hasErrors ignores warnings", () => {
    assert.equal(hasErrors([]), false);
    assert.equal(hasErrors([createIssue("", "profile.wizard.review_not_last", "m")]), false);
    assert.equal(
      hasErrors([
        createIssue("", "profile.wizard.review_not_last", "m"),
        createIssue("", "launch.missing", "m"),
      ]),
      true,
    );
  });

  it("escapes pointer tokens as RFC 6901 says", () => {
    assert.equal(escapePointerToken("a/b~c"), "a~1b~0c");
    assert.equal(escapePointerToken("~1"), "~01");
    assert.equal(escapePointerToken(3), "3");
    assert.equal(toPointer([]), "");
    assert.equal(toPointer(["execution", "container_env", "A/B"]), "/execution/container_env/A~1B");
    assert.equal(toPointer(["steps", 0, ""]), "/steps/0/");
  });
});
