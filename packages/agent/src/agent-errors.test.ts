import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { AGENT_ERROR_CODES, AGENT_ERRORS, toAgentError, toIssuesError } from "./agent-errors.js";

describe("the failure code catalogue", () => {
  it("matches the table in the package README, code by code", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const rows = [...readme.matchAll(/^\| `([a-z_.]+)` \| ([a-z]+) \| (yes|no) \|/gm)].map(
      ([, code, phase, retryable]) => [code, phase, retryable === "yes"],
    );
    assert.deepEqual(
      rows,
      AGENT_ERROR_CODES.map((code) => [
        code,
        AGENT_ERRORS[code].phase,
        AGENT_ERRORS[code].retryable,
      ]),
    );
  });

  it("builds the one error body with the phase in details", () => {
    assert.deepEqual(toAgentError("pull.failed", "m", "corr-1", { details: { x: 1 } }), {
      code: "pull.failed",
      message: "m",
      details: { phase: "pull", x: 1 },
      correlation_id: "corr-1",
    });
    const error = toIssuesError(
      [
        { pointer: "/a", code: "preflight.port_in_use", message: "first" },
        { pointer: "/b", code: "preflight.disk_low", message: "second" },
      ],
      "corr-2",
    );
    assert.equal(error.code, "preflight.port_in_use");
    assert.equal(error.message, "first (and 1 more)");
    assert.equal(error.issues?.length, 2);
  });
});
