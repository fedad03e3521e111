import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ISSUE_CODES, type IssueCode } from "./issues.js";
import { DOCUMENT_LIMITS } from "./loose.js";
import { MAX_PYTHON_PACKAGES } from "./pip-requirements.js";
import { type ResolvedLaunch, resolveLaunch } from "./resolve-launch.js";
import {
  baselineProfile,
  change,
  launchRequest,
  type Manifest,
  mutate,
  profileOf,
  without,
} from "./test-fixtures.js";
import type { WorkloadProfile } from "./types.js";

type Expected = readonly (readonly [pointer: string, code: IssueCode])[];

const PROFILE = baselineProfile();
const PARAMS = "/parameters/schema/properties";

function issuesOf(request: unknown, profile: WorkloadProfile = PROFILE): [string, IssueCode][] {
  return resolveLaunch(profile, request).issues.map((issue) => [issue.pointer, issue.code]);
}

/** The smallest request: everything else comes from defaults. */
function minimalRequest(): Manifest {
  return {
    app_slug: "jupyterlab",
    app_version: "2026.04-preview",
    placement_intent: { target_allocation_id: "alloc-1" },
  };
}

describe("resolveLaunch: the seed's launch request", () => {
  it("resolves to typed values", () => {
    const result = resolveLaunch(PROFILE, launchRequest());
    assert.deepEqual(result.issues, []);
    assert.equal(result.ok, true);
    const expected: ResolvedLaunch = {
      app_slug: "jupyterlab",
      app_version: "2026.04-preview",
      display_name: "My JupyterLab",
      target_allocation_id: "3f6c2a9e-4b1d-4c8e-9a7f-2d5b8e1c0a64",
      config: {
        workspace_mount: "project_storage",
        exposure_mode: "private",
        host_port: 8888,
        python_packages: "numpy==2.4.4 pandas>=2.2",
      },
      resources: { gpu_count: 0, cpu_cores: 2, memory_gib: 4 },
      exposure_mode: "private",
      storage: [{ name: "workspace", path: "/workspace", mode: "project_storage" }],
      endpoints: [{ name: "web", port: 8888, host_port: 8888, managed_ingress: false }],
      python_packages: ["numpy==2.4.4", "pandas>=2.2"],
    };
    assert.deepEqual(result.launch, expected);
  });

  it("does not change the request", () => {
    const request = launchRequest();
    const before = structuredClone(request);
    resolveLaunch(PROFILE, request);
    assert.deepEqual(request, before);
  });

  it("keeps the artifact the user picked", () => {
    const result = resolveLaunch(PROFILE, { ...launchRequest(), artifact_id: "art-42" });
    assert.equal(result.launch?.artifact_id, "art-42");
  });
});

describe("resolveLaunch: defaults", () => {
  it("fills every value the request leaves out", () => {
    const result = resolveLaunch(PROFILE, minimalRequest());
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.launch, {
      app_slug: "jupyterlab",
      app_version: "2026.04-preview",
      display_name: "JupyterLab",
      target_allocation_id: "alloc-1",
      config: {
        workspace_mount: "scratch",
        exposure_mode: "private",
        host_port: 8888,
        python_packages: "",
      },
      resources: { gpu_count: 1, cpu_cores: 2, memory_gib: 4 },
      exposure_mode: "private",
      storage: [{ name: "workspace", path: "/workspace", mode: "scratch" }],
      endpoints: [{ name: "web", port: 8888, host_port: 8888, managed_ingress: false }],
      python_packages: [],
    });
  });

  it("takes gpu.default_count, then the resource minimums, when parameters have no default", () => {
    const profile = profileOf(
      change([
        [`${PARAMS}/gpu_count/default`],
        [`${PARAMS}/cpu_cores/default`],
        [`${PARAMS}/memory_gib/default`],
      ]),
    );
    assert.deepEqual(resolveLaunch(profile, minimalRequest()).launch?.resources, {
      gpu_count: 1,
      cpu_cores: 2,
      memory_gib: 4,
    });
  });

  it("takes the parameter minimum when it is above the resource minimum", () => {
    const profile = profileOf(
      change([[`${PARAMS}/cpu_cores/default`], [`${PARAMS}/cpu_cores/minimum`, 4]]),
    );
    const result = resolveLaunch(profile, minimalRequest());
    assert.deepEqual(result.issues, []);
    assert.equal(result.launch?.resources.cpu_cores, 4);
  });

  it("uses the resource defaults even when the profile declares no resource parameters", () => {
    const profile = profileOf(
      change([
        [`${PARAMS}/gpu_count`],
        [`${PARAMS}/cpu_cores`],
        [`${PARAMS}/memory_gib`],
        ["/parameters/ui/order", ["workspace_mount", "exposure_mode", "host_port"]],
        ["/parameters/ui/groups/2"],
        ["/parameters/ui/launch_wizard/steps/2"],
      ]),
    );
    const result = resolveLaunch(profile, {
      ...minimalRequest(),
      resource_overrides: { cpu_cores: 16 },
    });
    assert.deepEqual(result.launch?.resources, { gpu_count: 1, cpu_cores: 16, memory_gib: 4 });
  });
});

describe("resolveLaunch: profiles it did not see validated", () => {
  it("ignores keywords that do not apply to a parameter's type instead of throwing", () => {
    const base = baselineProfile();
    const profile: WorkloadProfile = {
      ...base,
      parameters: {
        ...base.parameters,
        schema: {
          ...base.parameters.schema,
          properties: {
            ...base.parameters.schema.properties,
            token: { type: "string", minimum: 1, uniqueItems: true },
          },
        },
      },
    };
    const result = resolveLaunch(profile, mutate("/config/token", "abc", launchRequest()));
    assert.deepEqual(result.issues, []);
    assert.equal(result.launch?.config.token, "abc");
  });
});

describe("resolveLaunch: endpoint exposure", () => {
  it("publishes the first endpoint on the chosen host port", () => {
    const request = mutate("/config/host_port", 18888, launchRequest());
    assert.deepEqual(resolveLaunch(PROFILE, request).launch?.endpoints, [
      { name: "web", port: 8888, host_port: 18888, managed_ingress: false },
    ]);
  });

  it("routes managed ingress when the user picks it", () => {
    const request = mutate("/config/exposure_mode", "managed_ingress", launchRequest());
    const launch = resolveLaunch(PROFILE, request).launch;
    assert.equal(launch?.exposure_mode, "managed_ingress");
    assert.deepEqual(launch?.endpoints, [
      { name: "web", port: 8888, host_port: 8888, managed_ingress: true },
    ]);
  });

  it("routes managed ingress when the profile offers no choice and enables it", () => {
    const profile = profileOf(
      change([
        [`${PARAMS}/exposure_mode`],
        ["/parameters/schema/required", ["workspace_mount"]],
        [
          "/parameters/ui/order",
          ["workspace_mount", "host_port", "gpu_count", "cpu_cores", "memory_gib"],
        ],
        ["/parameters/ui/groups/1/fields", ["host_port"]],
        ["/parameters/ui/launch_wizard/steps/4/components/0"],
      ]),
    );
    const launch = resolveLaunch(profile, minimalRequest()).launch;
    assert.equal(launch?.exposure_mode, "managed_ingress");
    assert.equal(launch?.endpoints[0]?.managed_ingress, true);
  });

  it("has no host port when the profile has no host_port parameter", () => {
    const profile = profileOf(
      change([
        [`${PARAMS}/host_port`],
        [
          "/parameters/ui/order",
          ["workspace_mount", "exposure_mode", "gpu_count", "cpu_cores", "memory_gib"],
        ],
        ["/parameters/ui/groups/1/fields", ["exposure_mode"]],
        ["/parameters/ui/launch_wizard/steps/4/components/1"],
      ]),
    );
    const launch = resolveLaunch(profile, minimalRequest()).launch;
    assert.deepEqual(launch?.endpoints, [{ name: "web", port: 8888, managed_ingress: false }]);
  });
});

describe("resolveLaunch: Python packages", () => {
  it("accepts names, extras and version clauses", () => {
    const request = mutate(
      "/config/python_packages",
      "numpy==2.4.4 pandas>=2.2 torch~=2.9 requests[socks]>=2,<3",
      launchRequest(),
    );
    const result = resolveLaunch(PROFILE, request);
    assert.deepEqual(result.issues, []);
    assert.deepEqual(result.launch?.python_packages, [
      "numpy==2.4.4",
      "pandas>=2.2",
      "torch~=2.9",
      "requests[socks]>=2,<3",
    ]);
  });

  for (const refused of [
    "--index-url x",
    "-e .",
    "git+https://github.com/numpy/numpy.git",
    "https://files.example.com/numpy-2.4.4.whl",
    "./pkg",
    "/abs/path",
    "name @ url",
    "name@https://example.com/x.whl",
    'pkg; python_version<"3"',
  ]) {
    it(`refuses ${JSON.stringify(refused)}`, () => {
      const request = mutate("/config/python_packages", refused, launchRequest());
      const result = resolveLaunch(PROFILE, request);
      assert.equal(result.ok, false);
      const codes = new Set(issuesOf(request).map(([pointer, code]) => `${pointer} ${code}`));
      assert.deepEqual([...codes], ["/config/python_packages launch.packages.invalid"]);
    });
  }

  it("refuses more than the most packages", () => {
    const list = Array.from({ length: MAX_PYTHON_PACKAGES + 1 }, (_, i) => `pkg${i}`).join(" ");
    const request = mutate("/config/python_packages", list, launchRequest());
    assert.deepEqual(issuesOf(request), [["/config/python_packages", "launch.packages.too_many"]]);
  });
});

interface Case {
  readonly rule: string;
  readonly request: unknown;
  readonly expect: Expected;
  readonly profile?: WorkloadProfile;
}

const requestCases: Case[] = [
  { rule: "a request is an object", request: [], expect: [["", "launch.request_invalid"]] },
  { rule: "null is not a request", request: null, expect: [["", "launch.request_invalid"]] },
  {
    rule: "a request is bounded",
    request: mutate("/display_name", "x".repeat(DOCUMENT_LIMITS.maxTextChars + 1), launchRequest()),
    expect: [["", "launch.request_invalid"]],
  },
  {
    rule: "unknown top-level keys are refused",
    request: mutate("/priority", "high", launchRequest()),
    expect: [["/priority", "launch.unknown_key"]],
  },
  {
    rule: "unknown placement keys are refused",
    request: mutate("/placement_intent/zone", "a", launchRequest()),
    expect: [["/placement_intent/zone", "launch.unknown_key"]],
  },
  {
    rule: "app_slug is required",
    request: without("/app_slug", launchRequest()),
    expect: [["/app_slug", "launch.missing"]],
  },
  {
    rule: "app_slug is a string",
    request: mutate("/app_slug", 7, launchRequest()),
    expect: [["/app_slug", "launch.type"]],
  },
  {
    rule: "app_slug names this profile",
    request: mutate("/app_slug", "vllm-openai", launchRequest()),
    expect: [["/app_slug", "launch.app_mismatch"]],
  },
  {
    rule: "app_version is required",
    request: without("/app_version", launchRequest()),
    expect: [["/app_version", "launch.missing"]],
  },
  {
    rule: "app_version has a version's form",
    request: mutate("/app_version", "2026 04", launchRequest()),
    expect: [["/app_version", "launch.type"]],
  },
  {
    rule: "display_name is not blank",
    request: mutate("/display_name", "   ", launchRequest()),
    expect: [["/display_name", "launch.display_name_invalid"]],
  },
  {
    rule: "display_name has no control characters",
    request: mutate("/display_name", "my\nlab", launchRequest()),
    expect: [["/display_name", "launch.display_name_invalid"]],
  },
  {
    rule: "display_name is bounded",
    request: mutate("/display_name", "x".repeat(129), launchRequest()),
    expect: [["/display_name", "launch.display_name_invalid"]],
  },
  {
    rule: "placement_intent is required",
    request: without("/placement_intent", launchRequest()),
    expect: [["/placement_intent", "launch.missing"]],
  },
  {
    rule: "placement_intent is an object",
    request: mutate("/placement_intent", "alloc-1", launchRequest()),
    expect: [["/placement_intent", "launch.type"]],
  },
  {
    rule: "target_allocation_id is required",
    request: mutate("/placement_intent", {}, launchRequest()),
    expect: [["/placement_intent/target_allocation_id", "launch.missing"]],
  },
  {
    rule: "target_allocation_id is an id",
    request: mutate("/placement_intent/target_allocation_id", "../alloc", launchRequest()),
    expect: [["/placement_intent/target_allocation_id", "launch.allocation_id_invalid"]],
  },
  {
    rule: "artifact_id is an id",
    request: mutate("/artifact_id", 42, launchRequest()),
    expect: [["/artifact_id", "launch.type"]],
  },
  {
    rule: "config is an object",
    request: mutate("/config", "workspace_mount=scratch", launchRequest()),
    expect: [["/config", "launch.type"]],
  },
  {
    rule: "resource_overrides is an object",
    request: mutate("/resource_overrides", [1, 2, 4], launchRequest()),
    expect: [["/resource_overrides", "launch.type"]],
  },
];

const configCases: Case[] = [
  {
    rule: "config names declared parameters",
    request: mutate("/config/notebook_token", "secret", launchRequest()),
    expect: [["/config/notebook_token", "launch.config.unknown_key"]],
  },
  {
    rule: "resources go in resource_overrides, not config",
    request: mutate("/config/gpu_count", 1, launchRequest()),
    expect: [["/config/gpu_count", "launch.config.resource_in_config"]],
  },
  {
    rule: "a value has its parameter's type",
    request: mutate("/config/host_port", "8888", launchRequest()),
    expect: [["/config/host_port", "launch.config.invalid"]],
  },
  {
    rule: "a value is in its parameter's enum",
    request: mutate("/config/workspace_mount", "nfs", launchRequest()),
    expect: [["/config/workspace_mount", "launch.config.invalid"]],
  },
  {
    rule: "a value is at least its parameter's minimum",
    request: mutate("/config/host_port", 80, launchRequest()),
    expect: [["/config/host_port", "launch.config.invalid"]],
  },
  {
    rule: "a value is at most its parameter's maximum",
    request: mutate("/config/host_port", 70000, launchRequest()),
    expect: [["/config/host_port", "launch.config.invalid"]],
  },
  {
    rule: "a string is at most its parameter's maxLength",
    request: mutate("/config/python_packages", "numpy ".repeat(700).trim(), launchRequest()),
    expect: [
      ["/config/python_packages", "launch.config.invalid"],
      ["/config/python_packages", "launch.packages.too_many"],
    ],
  },
  {
    rule: "null is not a value",
    request: mutate("/config/exposure_mode", null, launchRequest()),
    expect: [["/config/exposure_mode", "launch.config.invalid"]],
  },
  {
    rule: "a required parameter without a default needs a value",
    profile: profileOf(
      change([
        [`${PARAMS}/project_code`, { type: "string", minLength: 1 }],
        ["/parameters/schema/required/-", "project_code"],
        [
          "/parameters/ui/launch_wizard/steps/1/components/-",
          { kind: "field", name: "project_code" },
        ],
      ]),
    ),
    request: launchRequest(),
    expect: [["/config/project_code", "launch.config.required"]],
  },
  {
    rule: "a storage mode is one the mount allows",
    profile: profileOf(mutate(`${PARAMS}/workspace_mount`, { type: "string", default: "scratch" })),
    request: mutate("/config/workspace_mount", "host_path", launchRequest()),
    expect: [["/config/workspace_mount", "launch.storage.mode_not_allowed"]],
  },
];

const resourceCases: Case[] = [
  {
    rule: "resource_overrides names known resources",
    request: mutate("/resource_overrides/disk_gib", 100, launchRequest()),
    expect: [["/resource_overrides/disk_gib", "launch.resources.unknown_key"]],
  },
  {
    rule: "a resource is not below the profile's minimum",
    request: mutate("/resource_overrides/cpu_cores", 1, launchRequest()),
    expect: [["/resource_overrides/cpu_cores", "launch.resources.below_minimum"]],
  },
  {
    rule: "a resource is not below the memory minimum",
    request: mutate("/resource_overrides/memory_gib", 2, launchRequest()),
    expect: [["/resource_overrides/memory_gib", "launch.resources.below_minimum"]],
  },
  {
    rule: "a resource is not below its parameter's minimum",
    profile: profileOf(
      change([
        [`${PARAMS}/cpu_cores/minimum`, 4],
        [`${PARAMS}/cpu_cores/default`, 4],
      ]),
    ),
    request: mutate("/resource_overrides/cpu_cores", 3, launchRequest()),
    expect: [["/resource_overrides/cpu_cores", "launch.resources.below_minimum"]],
  },
  {
    rule: "a resource is not above the profile's maximum",
    request: mutate("/resource_overrides/gpu_count", 9, launchRequest()),
    expect: [["/resource_overrides/gpu_count", "launch.resources.above_maximum"]],
  },
  {
    rule: "a resource is not above its parameter's maximum",
    request: mutate("/resource_overrides/cpu_cores", 129, launchRequest()),
    expect: [["/resource_overrides/cpu_cores", "launch.resources.above_maximum"]],
  },
  {
    rule: "a resource is not above resources.memory.max_gib",
    profile: profileOf(
      change([
        ["/resources/memory/max_gib", 64],
        [`${PARAMS}/memory_gib/maximum`, 2048],
      ]),
    ),
    request: mutate("/resource_overrides/memory_gib", 65, launchRequest()),
    expect: [["/resource_overrides/memory_gib", "launch.resources.above_maximum"]],
  },
  ...[-1, 1.5, "2", null, true].map(
    (value): Case => ({
      rule: `a resource is a whole number, 0 or more, not ${JSON.stringify(value)}`,
      request: mutate("/resource_overrides/gpu_count", value, launchRequest()),
      expect: [["/resource_overrides/gpu_count", "launch.resources.invalid"]],
    }),
  ),
];

const ALL_CASES: Record<string, Case[]> = {
  request: requestCases,
  config: configCases,
  resources: resourceCases,
};

for (const [section, cases] of Object.entries(ALL_CASES)) {
  describe(`resolveLaunch rules: ${section}`, () => {
    for (const { rule, request, expect, profile } of cases) {
      it(rule, () => {
        const result = resolveLaunch(profile ?? PROFILE, request);
        assert.deepEqual(
          result.issues.map((issue) => [issue.pointer, issue.code]),
          expect,
        );
        assert.equal(result.ok, false);
        assert.equal(result.launch, undefined);
        for (const issue of result.issues) {
          assert.equal(issue.severity, ISSUE_CODES[issue.code].severity);
          assert.ok(issue.message.length > 10, `${issue.code} has a sentence`);
        }
      });
    }
  });
}

describe("resolveLaunch: reports every problem at once", () => {
  it("lists problems under /config, /resource_overrides and /placement_intent together", () => {
    const request = change(
      [
        ["/placement_intent/target_allocation_id", ""],
        ["/config/workspace_mount", "nfs"],
        ["/config/python_packages", "numpy --index-url https://evil.example.com"],
        ["/config/gpu_count", 2],
        ["/resource_overrides/cpu_cores", 0],
        ["/resource_overrides/memory_gib", 100000],
        ["/resource_overrides/disk_gib", 10],
        ["/priority", "high"],
      ],
      launchRequest(),
    );
    assert.deepEqual(issuesOf(request), [
      ["/priority", "launch.unknown_key"],
      ["/placement_intent/target_allocation_id", "launch.allocation_id_invalid"],
      ["/config/gpu_count", "launch.config.resource_in_config"],
      ["/config/workspace_mount", "launch.config.invalid"],
      ["/resource_overrides/disk_gib", "launch.resources.unknown_key"],
      ["/resource_overrides/cpu_cores", "launch.resources.below_minimum"],
      ["/resource_overrides/memory_gib", "launch.resources.above_maximum"],
      ["/config/python_packages", "launch.packages.invalid"],
      ["/config/python_packages", "launch.packages.invalid"],
    ]);
  });
});

describe("resolveLaunch: every launch code has a rule test", () => {
  it("covers each launch.* code in the catalogue", () => {
    const tested = new Set<string>(
      Object.values(ALL_CASES)
        .flat()
        .flatMap((c) => c.expect.map(([, code]) => code)),
    );
    tested.add("launch.packages.invalid");
    const missing = Object.keys(ISSUE_CODES).filter(
      (code) => code.startsWith("launch.") && !tested.has(code),
    );
    assert.deepEqual(missing, []);
  });
});
