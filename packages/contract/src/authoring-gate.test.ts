import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkAuthoringGate, type GateStatus } from "./authoring-gate.js";
import {
  baseline,
  change,
  legacyWebEndpoint,
  type Manifest,
  mutate,
  without,
} from "./test-fixtures.js";

const KEYS = [
  "inputs_declared",
  "endpoint_exposure_declared",
  "artifact_selection_by_metadata",
  "resources_class_neutral",
  "runtime_defaults_in_manifest",
  "shared_resolver",
  "rejected_before_advertised",
  "wizard_from_manifest",
  "compose_topology",
  "smoke_evidence",
] as const;
type Key = (typeof KEYS)[number];

function statuses(manifest: unknown): Record<string, GateStatus> {
  return Object.fromEntries(checkAuthoringGate(manifest).points.map((p) => [p.key, p.status]));
}

/** A docker_compose profile, for the compose point. */
function composeProfile(compose: Manifest | undefined): Manifest {
  return change([
    ["/execution/default_engine", "docker_compose"],
    ["/execution/supported_engines/0/status", "future"],
    ["/execution/supported_engines/1/status", "active"],
    ...(compose === undefined ? [] : [["/execution/compose", compose] as const]),
  ]);
}

describe("checkAuthoringGate: the baseline", () => {
  it("reports ten numbered points, each with a title and a reason", () => {
    const report = checkAuthoringGate(baseline());
    assert.deepEqual(
      report.points.map((p) => [p.point, p.key]),
      KEYS.map((key, index) => [index + 1, key]),
    );
    for (const point of report.points) {
      assert.ok(point.title.length > 10);
      assert.ok(point.reason.length > 10);
    }
    assert.deepEqual(report.issues, []);
  });

  it("passes, with the points a manifest cannot show marked not applicable", () => {
    const report = checkAuthoringGate(baseline());
    assert.equal(report.ready, true);
    assert.deepEqual(statuses(baseline()), {
      inputs_declared: "pass",
      endpoint_exposure_declared: "pass",
      artifact_selection_by_metadata: "pass",
      resources_class_neutral: "pass",
      runtime_defaults_in_manifest: "pass",
      shared_resolver: "not_applicable",
      rejected_before_advertised: "pass",
      wizard_from_manifest: "pass",
      compose_topology: "not_applicable",
      smoke_evidence: "not_applicable",
    });
  });
});

describe("checkAuthoringGate: a manifest that does not validate", () => {
  it("is not ready, has no points and carries the validation issues", () => {
    const report = checkAuthoringGate(mutate("/profile/launch_mode", "new_allocation"));
    assert.equal(report.ready, false);
    assert.deepEqual(report.points, []);
    assert.deepEqual(
      report.issues.map((issue) => [issue.pointer, issue.code]),
      [["/profile/launch_mode", "profile.schema.enum"]],
    );
  });

  it("is not ready for a non-object", () => {
    const report = checkAuthoringGate("jupyterlab");
    assert.equal(report.ready, false);
    assert.equal(report.issues[0]?.code, "document.not_object");
  });
});

/** A valid manifest that fails exactly one point, and the words its reason must contain. */
const FAILING: [Key, string, Manifest, RegExp][] = [
  [
    "inputs_declared",
    "a parameter with no wizard field and no default",
    mutate("/parameters/schema/properties/notebook_token", { type: "string", minLength: 8 }),
    /notebook_token/,
  ],
  [
    "endpoint_exposure_declared",
    "a legacy endpoint",
    mutate("/network/endpoints/0", legacyWebEndpoint()),
    /legacy .* on: web/,
  ],
  [
    "runtime_defaults_in_manifest",
    "endpoints without a readiness probe",
    mutate("/validation/readiness", []),
    /readiness/,
  ],
  [
    "rejected_before_advertised",
    "gpu_count may be 0 but there is no CPU image",
    without("/artifacts/primary_image"),
    /CPU-only variant/,
  ],
  [
    "wizard_from_manifest",
    "a wizard without a review",
    without("/parameters/ui/launch_wizard/steps/5"),
    /platform\.review/,
  ],
  [
    "compose_topology",
    "a compose profile without a topology",
    composeProfile({ renderer: "jupyterlab_stack" }),
    /topology/,
  ],
  ["smoke_evidence", "no smoke checks", mutate("/validation/smoke", []), /smoke/],
];

describe("checkAuthoringGate: each point that can fail", () => {
  for (const [key, what, manifest, reason] of FAILING) {
    it(`${key} fails for ${what}`, () => {
      const report = checkAuthoringGate(manifest);
      assert.equal(report.points.length, 10, JSON.stringify(report.issues));
      const failed = report.points.filter((p) => p.status === "fail");
      // A missing readiness probe is both a runtime default and an early-rejection problem.
      const expected: Key[] =
        key === "runtime_defaults_in_manifest" ? [key, "rejected_before_advertised"] : [key];
      assert.deepEqual(
        failed.map((p) => p.key),
        expected,
      );
      assert.match(failed[0]?.reason ?? "", reason);
      assert.equal(report.ready, false);
    });
  }

  it("covers every point except those no valid manifest can fail", () => {
    const failable = new Set(FAILING.map(([key]) => key));
    assert.deepEqual(
      KEYS.filter((key) => !failable.has(key)),
      ["artifact_selection_by_metadata", "resources_class_neutral", "shared_resolver"],
    );
  });
});

describe("checkAuthoringGate: the other outcomes", () => {
  it("passes the compose point with a renderer and a topology", () => {
    const report = checkAuthoringGate(
      composeProfile({
        renderer: "jupyterlab_stack",
        topology: { services: [{ name: "lab", role: "notebook", endpoints: ["web"] }] },
      }),
    );
    const point = report.points.find((p) => p.key === "compose_topology");
    assert.equal(point?.status, "pass");
    assert.match(point?.reason ?? "", /jupyterlab_stack, 1 service/);
  });

  it("marks endpoint exposure not applicable when there are no endpoints", () => {
    const manifest = change([
      ["/network/endpoints", []],
      ["/outputs/endpoints", []],
      ["/validation/readiness", []],
      ["/parameters/schema/properties/exposure_mode/enum", ["private"]],
    ]);
    const report = checkAuthoringGate(manifest);
    assert.equal(statuses(manifest).endpoint_exposure_declared, "not_applicable");
    assert.equal(report.ready, true);
  });

  it("passes artifact selection for a single CPU variant", () => {
    const manifest = change([
      ["/artifacts/nvidia_h200_image"],
      ["/artifacts/amd_rocm_image"],
      [
        "/resources/gpu",
        { min_count: 0, default_count: 0, max_count: 0, placement: "allocation_local" },
      ],
      ["/parameters/schema/properties/gpu_count/default", 0],
      ["/parameters/schema/properties/gpu_count/maximum", 0],
    ]);
    assert.equal(statuses(manifest).artifact_selection_by_metadata, "pass");
    assert.equal(checkAuthoringGate(manifest).ready, true);
  });
});
