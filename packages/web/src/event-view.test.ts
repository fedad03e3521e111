import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeEventType, toEventView } from "./event-view.js";
import { formatParameter, humanize, shortDigest } from "./format.js";

describe("event view", () => {
  it("shows a package install's pip output as an excerpt", () => {
    const view = toEventView("instance.packages_failed", {
      generation: 1,
      packages: ["numpy==2.4.4"],
      exit_code: 1,
      excerpt: "ERROR: No matching distribution found for numpy==2.4.4",
    });
    assert.deepEqual(view.excerpts, [
      ["excerpt", "ERROR: No matching distribution found for numpy==2.4.4"],
    ]);
    assert.equal(view.failed, true);
    assert.ok(view.facts.some(([key, value]) => key === "packages" && value === "numpy==2.4.4"));
  });

  it("highlights failure reasons and joins log excerpt lines", () => {
    const view = toEventView("instance.failed", {
      reason: "container.exited",
      message: "the container exited with 137",
      log_excerpt: ["line 1", "line 2"],
      oom_killed: true,
    });
    assert.deepEqual(view.reasons, [
      ["reason", "container.exited"],
      ["message", "the container exited with 137"],
    ]);
    assert.deepEqual(view.excerpts, [["log_excerpt", "line 1\nline 2"]]);
    assert.deepEqual(view.facts, [["oom_killed", "Yes"]]);
  });

  it("keeps ordinary events plain", () => {
    const view = toEventView("instance.launch_requested", {
      generation: 1,
      digest: "sha256:abc",
      gpu_indices: [],
      details: { nested: "value" },
    });
    assert.equal(view.failed, false);
    assert.deepEqual(view.reasons, []);
    assert.deepEqual(
      view.facts.map(([key]) => key),
      ["generation", "digest", "gpu_indices", "details.nested"],
    );
    assert.equal(describeEventType("instance.launch_requested"), "Launch requested");
  });
});

describe("formatting", () => {
  it("makes machine names readable", () => {
    assert.equal(humanize("project_storage"), "Project storage");
    assert.equal(humanize("header_injected_jwt"), "Header injected JWT");
    assert.equal(humanize("oidc_native"), "OIDC native");
    assert.equal(shortDigest(`sha256:${"0123456789abcdef".repeat(4)}`), "sha256:0123456789ab");
  });

  it("formats enum parameters by their label", () => {
    const profile = {
      parameters: {
        schema: {
          type: "object",
          properties: {
            mode: { type: "string", enum: ["managed_ingress"] },
            port: { type: "integer" },
          },
        },
        ui: { launch_wizard: { steps: [] } },
      },
    } as unknown as Parameters<typeof formatParameter>[0];
    assert.equal(formatParameter(profile, "mode", "managed_ingress"), "Managed ingress");
    assert.equal(formatParameter(profile, "port", 8888), "8888");
  });
});
