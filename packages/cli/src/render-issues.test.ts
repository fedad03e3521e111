import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderFileIssues, renderIssue } from "./render-issues.js";

const error = {
  pointer: "/profile/slug",
  code: "profile.schema.pattern",
  message: "use lowercase letters",
  severity: "error" as const,
};
const warning = {
  pointer: "",
  code: "profile.validation.no_readiness",
  message: "declare a readiness probe",
  severity: "warning" as const,
  line: 3,
  column: 1,
};

describe("renderIssue", () => {
  it("writes severity, pointer, code, message and position, two spaces apart", () => {
    assert.equal(
      renderIssue(error),
      "  error    /profile/slug  profile.schema.pattern  use lowercase letters",
    );
    assert.equal(
      renderIssue(warning),
      "  warning  /  profile.validation.no_readiness  declare a readiness probe (line 3, column 1)",
    );
  });
});

describe("renderFileIssues", () => {
  it("heads each file with ok, its warnings, its counts or unusable", () => {
    assert.equal(renderFileIssues("a.yaml", false, []), "a.yaml: ok\n");
    assert.equal(
      renderFileIssues("a.yaml", false, [warning]).split("\n")[0],
      "a.yaml: ok, 1 warning(s)",
    );
    assert.equal(
      renderFileIssues("a.yaml", false, [error, warning]).split("\n")[0],
      "a.yaml: 1 error(s), 1 warning(s)",
    );
    assert.equal(renderFileIssues("a.yaml", true, [error]).split("\n")[0], "a.yaml: unusable");
  });
});
