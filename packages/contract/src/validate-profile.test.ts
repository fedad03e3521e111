import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ISSUE_CODES, type IssueCode } from "./issues.js";
import { DOCUMENT_LIMITS } from "./loose.js";
import {
  baseline,
  change,
  legacyWebEndpoint,
  type Manifest,
  mutate,
  resolvePointer,
  without,
} from "./test-fixtures.js";
import { validateProfile } from "./validate-profile.js";

type Expected = readonly (readonly [pointer: string, code: IssueCode])[];

/** One rule broken on an otherwise valid manifest, and exactly the issues it must produce. */
interface Case {
  readonly rule: string;
  readonly manifest: unknown;
  readonly expect: Expected;
}

function issuesOf(manifest: unknown): [string, IssueCode][] {
  return validateProfile(manifest).issues.map((issue) => [issue.pointer, issue.code]);
}

const WIZARD = "/parameters/ui/launch_wizard/steps";
const PARAMS = "/parameters/schema/properties";
const ENDPOINT = "/network/endpoints/0";
const INGRESS = `${ENDPOINT}/managed_ingress`;

const v11Endpoint = (name: string, port: number): Manifest => ({
  name,
  port,
  type: "http",
  auth_pattern: "header_injected_jwt",
  managed_ingress: { enabled: false },
});

/** A manifest with every optional section present, so unknown keys can be tried at every level. */
function extended(): Manifest {
  return change([
    [
      "/execution/compose",
      {
        renderer: "jupyterlab_stack",
        topology: {
          description: "One notebook server.",
          services: [{ name: "lab", role: "notebook", endpoints: ["web"], mounts: ["workspace"] }],
        },
      },
    ],
    [
      "/security",
      {
        privileged: false,
        host_mounts: [{ host_path: "/srv/datasets", path: "/datasets", read_only: true }],
        approval: { approved_by: "platform-security", reference: "SEC-2026-014" },
      },
    ],
    [`${PARAMS}/tags`, { type: "array", items: { type: "string" }, default: [] }],
  ]);
}

describe("validateProfile: the baselines", () => {
  it("accepts the baseline profile with zero issues", () => {
    const result = validateProfile(baseline());
    assert.deepEqual(result.issues, []);
    assert.equal(result.ok, true);
    assert.ok(result.profile);
  });

  it("accepts the extended baseline (compose, security, a list parameter) with zero issues", () => {
    assert.deepEqual(issuesOf(extended()), []);
  });

  it("accepts a legacy-shaped endpoint with only a migration warning", () => {
    const result = validateProfile(mutate(ENDPOINT, legacyWebEndpoint()));
    assert.deepEqual(
      result.issues.map((issue) => [issue.pointer, issue.code, issue.severity]),
      [[ENDPOINT, "profile.endpoint.legacy_fields", "warning"]],
    );
    assert.match(result.issues[0]?.message ?? "", /auth_bridge is dropped/);
    assert.equal(result.ok, true);
  });

  it("does not change its input", () => {
    const manifest = mutate(ENDPOINT, legacyWebEndpoint());
    const before = structuredClone(manifest);
    validateProfile(manifest);
    assert.deepEqual(manifest, before);
  });
});

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level += 1) value = { a: value };
  return value;
}

const documentCases: Case[] = [
  { rule: "null is not a profile", manifest: null, expect: [["", "document.not_object"]] },
  {
    rule: "a list is not a profile",
    manifest: [baseline()],
    expect: [["", "document.not_object"]],
  },
  {
    rule: "a string is not a profile",
    manifest: "profile:",
    expect: [["", "document.not_object"]],
  },
  { rule: "a number is not a profile", manifest: 42, expect: [["", "document.not_object"]] },
  {
    rule: "a bigint is not JSON",
    manifest: mutate("/resources/gpu/min_count", 0n),
    expect: [["", "document.not_json"]],
  },
  {
    rule: "a function is not JSON",
    manifest: mutate("/profile/display_name", () => "JupyterLab"),
    expect: [["", "document.not_json"]],
  },
  {
    rule: "nesting deeper than the limit",
    // The root object is level 1, so `x` nests maxDepth more levels below it.
    manifest: mutate("/x", nested(DOCUMENT_LIMITS.maxDepth)),
    expect: [["", "document.too_deep"]],
  },
  {
    rule: "nesting exactly at the limit is only an unknown key",
    manifest: mutate("/x", nested(DOCUMENT_LIMITS.maxDepth - 1)),
    expect: [["/x", "profile.schema.unknown_key"]],
  },
  {
    rule: "more values than the limit",
    manifest: mutate("/x", new Array(DOCUMENT_LIMITS.maxValues).fill(0)),
    expect: [["", "document.too_large"]],
  },
  {
    rule: "more text than the limit",
    manifest: mutate("/profile/description", "a".repeat(DOCUMENT_LIMITS.maxTextChars)),
    expect: [["", "document.too_large"]],
  },
  {
    rule: "keys count as text",
    manifest: mutate(`/${"k".repeat(DOCUMENT_LIMITS.maxTextChars)}`, 1),
    expect: [["", "document.too_large"]],
  },
];

const schemaCases: Case[] = [
  {
    rule: "a required section is missing",
    manifest: without("/resources"),
    expect: [["/resources", "profile.schema.required"]],
  },
  {
    rule: "a required key is missing deep down",
    manifest: without(`${ENDPOINT}/port`),
    expect: [[`${ENDPOINT}/port`, "profile.schema.required"]],
  },
  {
    rule: "a value has the wrong type",
    manifest: mutate("/resources/gpu/min_count", "0"),
    expect: [["/resources/gpu/min_count", "profile.schema.type"]],
  },
  {
    rule: "parameters.schema.type is the constant object",
    manifest: mutate("/parameters/schema/type", "array"),
    expect: [["/parameters/schema/type", "profile.schema.const"]],
  },
  {
    rule: "the slug has its form",
    manifest: mutate("/profile/slug", "JupyterLab"),
    expect: [["/profile/slug", "profile.schema.pattern"]],
  },
  {
    rule: "an endpoint port is a TCP port",
    manifest: mutate(`${ENDPOINT}/port`, 70000),
    expect: [[`${ENDPOINT}/port`, "profile.schema.range"]],
  },
  {
    rule: "a display name is not empty",
    manifest: mutate("/profile/display_name", ""),
    expect: [["/profile/display_name", "profile.schema.length"]],
  },
  {
    rule: "required parameters are listed once",
    manifest: mutate("/parameters/schema/required/1", "workspace_mount"),
    expect: [
      ["/parameters/schema/required", "profile.schema.duplicate"],
      // exposure_mode is no longer required, so nothing else changes.
    ],
  },
  {
    rule: "a parameter name is an identifier",
    manifest: mutate(`${PARAMS}/Bad-Name`, { type: "string", default: "x" }),
    expect: [[`${PARAMS}/Bad-Name`, "profile.schema.pattern"]],
  },
  {
    rule: "the kind is the launchable OCI workload kind",
    manifest: mutate("/profile/kind", "gpuaas.slurm_cluster"),
    expect: [["/profile/kind", "profile.kind.unsupported"]],
  },
  {
    rule: "the schema version is one this contract reads",
    manifest: mutate("/profile/schema_version", "v2"),
    expect: [["/profile/schema_version", "profile.kind.unsupported"]],
  },
];

/** What a few out-of-enum values also break, besides the enum. */
const ENUM_FOLLOW_UPS: Record<string, Expected> = {
  // Not listed in supported_engines either.
  "default engine": [["/execution/default_engine", "profile.execution.default_engine_inactive"]],
  // The workspace_mount parameter still offers project_storage, which the mount now refuses.
  "storage mode": [[`${PARAMS}/workspace_mount/enum/1`, "profile.storage.mode_mismatch"]],
  // A legacy field that also contradicts `type: http`.
  "legacy protocol": [
    [ENDPOINT, "profile.endpoint.legacy_fields"],
    [`${ENDPOINT}/protocol`, "profile.endpoint.legacy_conflict"],
  ],
};

/** Issues in the order validateProfile reports them: by pointer, stable otherwise. */
function byPointer(expected: Expected): Expected {
  return [...expected].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** Every closed enum of the contract, one out-of-enum value each. */
const enumCases: Case[] = [
  ["endpoint type", `${ENDPOINT}/type`, "websocket"],
  ["auth pattern", `${ENDPOINT}/auth_pattern`, "basic_auth"],
  ["route family", `${INGRESS}/route_family`, "public_app"],
  ["client auth mode", `${INGRESS}/client_auth_mode`, "api_key"],
  ["route mode", `${INGRESS}/route_mode`, "pomerium_route"],
  ["default engine", "/execution/default_engine", "nomad"],
  ["supported engine", "/execution/supported_engines/1/engine", "nomad"],
  ["adapter status", "/execution/supported_engines/1/status", "beta"],
  ["launch mode", "/profile/launch_mode", "new_allocation"],
  ["support level", "/profile/support_level", "official"],
  ["wizard component kind (reserved kinds only)", `${WIZARD}/1/components/0/kind`, "custom.picker"],
  ["artifact source", "/artifacts/primary_image/source", "docker_hub"],
  ["accelerator vendor", "/artifacts/amd_rocm_image/accelerator/vendor", "apple"],
  ["cpu architecture", "/artifacts/amd_rocm_image/cpu_architectures/0", "riscv64"],
  ["storage mode", "/storage/mounts/0/modes/1", "host_path"],
  ["readiness type", "/validation/readiness/0/type", "grpc"],
  ["legacy protocol", `${ENDPOINT}/protocol`, "udp"],
].map(([name, pointer, value]) => ({
  rule: `closed enum: ${name}`,
  manifest: mutate(pointer as string, value),
  expect: byPointer([
    [pointer as string, "profile.schema.enum"],
    ...(ENUM_FOLLOW_UPS[name as string] ?? []),
  ]),
}));

/** Every object the contract closes, in a manifest where each one is present. */
const CLOSED_OBJECTS = [
  "",
  "/profile",
  "/artifacts/primary_image",
  "/artifacts/primary_image/accelerator",
  "/parameters",
  "/parameters/schema",
  `${PARAMS}/host_port`,
  `${PARAMS}/tags/items`,
  "/parameters/ui",
  "/parameters/ui/groups/0",
  "/parameters/ui/launch_wizard",
  `${WIZARD}/0`,
  `${WIZARD}/0/components/0`,
  "/resources",
  "/resources/gpu",
  "/resources/cpu",
  "/resources/memory",
  "/storage",
  "/storage/mounts/0",
  "/network",
  ENDPOINT,
  INGRESS,
  `${ENDPOINT}/proxy`,
  "/execution",
  "/execution/supported_engines/0",
  "/execution/compose",
  "/execution/compose/topology",
  "/execution/compose/topology/services/0",
  "/outputs",
  "/outputs/endpoints/0",
  "/outputs/commands/0",
  "/validation",
  "/validation/readiness/0",
  "/validation/smoke/0",
  "/security",
  "/security/host_mounts/0",
  "/security/approval",
];

describe("validateProfile: unknown keys are refused at every closed level", () => {
  // A legacy proxy block beside managed_ingress (same values) adds only a migration warning.
  const base = mutate(`${ENDPOINT}/proxy`, { default_open_path: "/lab" }, extended());
  const baseIssues = issuesOf(base);
  it("starts from a manifest with one migration warning", () => {
    assert.deepEqual(baseIssues, [[ENDPOINT, "profile.endpoint.legacy_fields"]]);
  });
  for (const pointer of CLOSED_OBJECTS) {
    it(`at ${pointer || "the root"}`, () => {
      assert.equal(resolvePointer(base, pointer).found, true, `${pointer} is in the fixture`);
      const issues = issuesOf(mutate(`${pointer}/x_unknown`, true, base));
      assert.deepEqual(
        issues.filter((issue) => !baseIssues.some((b) => b[0] === issue[0] && b[1] === issue[1])),
        [[`${pointer}/x_unknown`, "profile.schema.unknown_key"]],
      );
    });
  }

  it("leaves open what is open: container_env, artifact variants, parameters", () => {
    const manifest = change([
      ["/execution/container_env/MY_SETTING", "1"],
      [
        "/artifacts/intel_image",
        {
          source: "platform_registry",
          artifact_name: "jupyterlab/runtime-intel",
          digest_required: true,
          media_type: "application/vnd.oci.image.manifest.v1+json",
          accelerator: { vendor: "intel" },
        },
      ],
      [`${PARAMS}/theme`, { type: "string", enum: ["light", "dark"], default: "light" }],
    ]);
    assert.deepEqual(issuesOf(manifest), []);
  });
});

const parameterCases: Case[] = [
  {
    rule: "required names a declared parameter",
    manifest: mutate("/parameters/schema/required/-", "notebook_token"),
    expect: [["/parameters/schema/required/2", "profile.parameters.required_undeclared"]],
  },
  {
    rule: "a default satisfies its own schema",
    manifest: mutate(`${PARAMS}/host_port/default`, 80),
    expect: [[`${PARAMS}/host_port/default`, "profile.parameters.default_invalid"]],
  },
  {
    rule: "a default is in the enum",
    manifest: mutate(`${PARAMS}/workspace_mount/default`, "nfs"),
    expect: [
      [`${PARAMS}/workspace_mount/default`, "profile.parameters.default_invalid"],
      [`${PARAMS}/workspace_mount/default`, "profile.storage.mode_mismatch"],
    ],
  },
  {
    rule: "the python_packages default is a valid package list",
    manifest: mutate(`${PARAMS}/python_packages/default`, "numpy git+https://example.com/x.git"),
    expect: [[`${PARAMS}/python_packages/default`, "profile.parameters.default_invalid"]],
  },
  {
    rule: "minimum is not above maximum",
    manifest: mutate(`${PARAMS}/shm_gib`, { type: "integer", minimum: 8, maximum: 1 }),
    expect: [[`${PARAMS}/shm_gib/minimum`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "minLength is not above maxLength",
    manifest: mutate(`${PARAMS}/token`, { type: "string", minLength: 8, maxLength: 4 }),
    expect: [[`${PARAMS}/token/minLength`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "enum values have the parameter's type",
    manifest: mutate(`${PARAMS}/shm_gib`, { type: "integer", enum: [1, "2"] }),
    expect: [[`${PARAMS}/shm_gib/enum/1`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "keywords apply to the parameter's type",
    manifest: mutate(`${PARAMS}/token`, { type: "string", minimum: 1 }),
    expect: [[`${PARAMS}/token/minimum`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "an unknown parameter type is only a schema problem, even a prototype name",
    manifest: mutate(`${PARAMS}/token`, { type: "constructor", minimum: 1 }),
    expect: [[`${PARAMS}/token/type`, "profile.schema.enum"]],
  },
  {
    rule: "a boolean parameter has no enum",
    manifest: mutate(`${PARAMS}/debug`, { type: "boolean", enum: [1] }),
    expect: [[`${PARAMS}/debug/enum`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "a list parameter declares its items",
    manifest: mutate(`${PARAMS}/tags`, { type: "array" }),
    expect: [[`${PARAMS}/tags/items`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "items belong to list parameters only",
    manifest: mutate(`${PARAMS}/token`, { type: "string", items: { type: "string" } }),
    expect: [[`${PARAMS}/token/items`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "a pattern is a valid regular expression",
    manifest: mutate(`${PARAMS}/token`, { type: "string", pattern: "([a-z" }),
    expect: [[`${PARAMS}/token/pattern`, "profile.parameters.schema_invalid"]],
  },
  {
    rule: "exposure_mode offers platform exposure modes only",
    manifest: mutate(`${PARAMS}/exposure_mode/enum/-`, "public"),
    expect: [[`${PARAMS}/exposure_mode/enum/2`, "profile.parameters.reserved_type"]],
  },
  {
    rule: "exposure_mode lists its modes",
    manifest: without(`${PARAMS}/exposure_mode/enum`),
    expect: [[`${PARAMS}/exposure_mode`, "profile.parameters.reserved_type"]],
  },
  {
    rule: "host_port cannot reach privileged ports",
    manifest: change([
      [`${PARAMS}/host_port/minimum`, 80],
      [`${PARAMS}/host_port/default`, 8888],
    ]),
    expect: [[`${PARAMS}/host_port`, "profile.parameters.reserved_type"]],
  },
  {
    rule: "resource parameters are integers",
    manifest: change([
      [`${PARAMS}/memory_gib/type`, "number"],
      [`${PARAMS}/memory_gib/default`, 4],
    ]),
    expect: [[`${PARAMS}/memory_gib/type`, "profile.parameters.reserved_type"]],
  },
];

const uiCases: Case[] = [
  {
    rule: "ui.order names declared parameters",
    manifest: mutate("/parameters/ui/order/-", "notebook_token"),
    expect: [["/parameters/ui/order/7", "profile.ui.unknown_field"]],
  },
  {
    rule: "ui.order lists a parameter once",
    manifest: mutate("/parameters/ui/order/-", "host_port"),
    expect: [["/parameters/ui/order/7", "profile.ui.duplicate_field"]],
  },
  {
    rule: "ui.groups name declared parameters",
    manifest: mutate("/parameters/ui/groups/0/fields/-", "notebook_token"),
    expect: [["/parameters/ui/groups/0/fields/1", "profile.ui.unknown_field"]],
  },
  {
    rule: "a parameter belongs to one group",
    manifest: mutate("/parameters/ui/groups/3/fields/-", "host_port"),
    expect: [["/parameters/ui/groups/3/fields/1", "profile.ui.duplicate_field"]],
  },
  {
    rule: "group ids are unique",
    manifest: mutate("/parameters/ui/groups/1/id", "workspace"),
    expect: [["/parameters/ui/groups/1/id", "profile.ui.duplicate_group"]],
  },
];

const wizardCases: Case[] = [
  {
    rule: "a field component names a declared parameter",
    manifest: mutate(`${WIZARD}/1/components/1/name`, "notebook_token"),
    expect: [[`${WIZARD}/1/components/1/name`, "profile.wizard.unknown_field"]],
  },
  {
    rule: "a field component has a name",
    manifest: without(`${WIZARD}/1/components/1/name`),
    expect: [[`${WIZARD}/1/components/1/name`, "profile.wizard.field_without_name"]],
  },
  {
    rule: "platform components take no name",
    manifest: mutate(`${WIZARD}/0/components/0/name`, "target"),
    expect: [[`${WIZARD}/0/components/0/name`, "profile.wizard.unexpected_name"]],
  },
  {
    rule: "a parameter appears in the wizard once",
    manifest: mutate(`${WIZARD}/2/components/-`, { kind: "field", name: "gpu_count" }),
    expect: [[`${WIZARD}/2/components/3/name`, "profile.wizard.duplicate_field"]],
  },
  {
    rule: "step ids are unique",
    manifest: mutate(`${WIZARD}/1/id`, "target"),
    expect: [[`${WIZARD}/1/id`, "profile.wizard.duplicate_step"]],
  },
  {
    rule: "single-use platform components appear once",
    manifest: mutate(`${WIZARD}/1/components/-`, { kind: "platform.artifact_selector" }),
    expect: [[`${WIZARD}/1/components/2/kind`, "profile.wizard.duplicate_component"]],
  },
  {
    rule: "every required parameter is reachable from the wizard",
    manifest: without(`${WIZARD}/3`),
    expect: [["/parameters/schema/required/0", "profile.wizard.required_unreachable"]],
  },
  {
    rule: "existing_allocation needs platform.target_allocation",
    manifest: mutate(`${WIZARD}/0/components/0`, {
      kind: "platform.access_credential",
      required: true,
    }),
    expect: [[WIZARD, "profile.wizard.missing_target_allocation"]],
  },
  {
    rule: "platform.review is in the last step",
    manifest: mutate(`${WIZARD}/-`, {
      id: "credentials",
      title: "Credentials",
      components: [{ kind: "platform.operator_service_account" }],
    }),
    expect: [[`${WIZARD}/5`, "profile.wizard.review_not_last"]],
  },
];

const artifactVariant = (name: string, vendor: string): Manifest => ({
  source: "platform_registry",
  artifact_name: name,
  digest_required: true,
  media_type: "application/vnd.oci.image.manifest.v1+json",
  accelerator: { vendor },
  cpu_architectures: ["amd64"],
});

const artifactCases: Case[] = [
  {
    rule: "artifacts require a digest",
    manifest: mutate("/artifacts/primary_image/digest_required", false),
    expect: [["/artifacts/primary_image/digest_required", "profile.artifact.digest_not_required"]],
  },
  {
    rule: "a digest is sha256 and 64 lowercase hex digits (too short)",
    manifest: mutate("/artifacts/primary_image/digest", "sha256:abc123"),
    expect: [["/artifacts/primary_image/digest", "profile.artifact.digest_invalid"]],
  },
  {
    rule: "a digest is sha256 and 64 lowercase hex digits (uppercase)",
    manifest: mutate("/artifacts/primary_image/digest", `sha256:${"AB".repeat(32)}`),
    expect: [["/artifacts/primary_image/digest", "profile.artifact.digest_invalid"]],
  },
  {
    rule: "a digest is sha256 and 64 lowercase hex digits (other algorithm)",
    manifest: mutate("/artifacts/primary_image/digest", `sha512:${"a".repeat(64)}`),
    expect: [["/artifacts/primary_image/digest", "profile.artifact.digest_invalid"]],
  },
  {
    rule: "artifact_name carries no tag",
    manifest: mutate("/artifacts/primary_image/artifact_name", "jupyterlab/runtime-cpu:latest"),
    expect: [["/artifacts/primary_image/artifact_name", "profile.artifact.tag_reference"]],
  },
  {
    rule: "artifact_name carries no digest",
    manifest: mutate(
      "/artifacts/primary_image/artifact_name",
      `jupyterlab/runtime-cpu@sha256:${"a".repeat(64)}`,
    ),
    expect: [["/artifacts/primary_image/artifact_name", "profile.artifact.tag_reference"]],
  },
  {
    rule: "artifact_name carries no registry host",
    manifest: mutate("/artifacts/primary_image/artifact_name", "ghcr.io/jupyter/runtime-cpu"),
    expect: [["/artifacts/primary_image/artifact_name", "profile.artifact.tag_reference"]],
  },
  {
    rule: "artifact_name is an OCI repository name",
    manifest: mutate("/artifacts/primary_image/artifact_name", "JupyterLab/Runtime CPU"),
    expect: [["/artifacts/primary_image/artifact_name", "profile.artifact.name_invalid"]],
  },
  {
    rule: "artifact names are unique",
    manifest: mutate("/artifacts/amd_rocm_image/artifact_name", "jupyterlab/runtime-nvidia-h200"),
    expect: [["/artifacts/amd_rocm_image/artifact_name", "profile.artifact.duplicate_name"]],
  },
  {
    rule: "two variants do not select the same allocations",
    manifest: mutate("/artifacts/amd_rocm_image_2", {
      ...artifactVariant("jupyterlab/runtime-amd-rocm-2", "amd"),
    }),
    expect: [["/artifacts/amd_rocm_image_2", "profile.artifact.ambiguous_selector"]],
  },
  {
    rule: "gpu_count may be 0, so a CPU variant should exist",
    manifest: without("/artifacts/primary_image"),
    expect: [["/artifacts", "profile.artifact.no_cpu_variant"]],
  },
  {
    rule: "a profile that requires GPUs has a GPU variant",
    manifest: change([
      ["/artifacts/nvidia_h200_image"],
      ["/artifacts/amd_rocm_image"],
      ["/resources/gpu/min_count", 1],
    ]),
    expect: [["/artifacts", "profile.artifact.no_gpu_variant"]],
  },
];

const resourceCases: Case[] = [
  {
    rule: "a resource parameter default is not below the resource minimum",
    manifest: mutate(`${PARAMS}/cpu_cores/default`, 1),
    expect: [[`${PARAMS}/cpu_cores/default`, "profile.resources.default_below_minimum"]],
  },
  {
    rule: "the memory default is not below the memory minimum",
    manifest: mutate("/resources/memory/min_gib", 8),
    expect: [[`${PARAMS}/memory_gib/default`, "profile.resources.default_below_minimum"]],
  },
  {
    rule: "a resource parameter default is not above the resource maximum",
    manifest: mutate("/resources/cpu/max_cores", 2, mutate(`${PARAMS}/cpu_cores/default`, 3)),
    expect: [[`${PARAMS}/cpu_cores/default`, "profile.resources.default_above_maximum"]],
  },
  {
    rule: "a resource maximum is not below its minimum",
    manifest: change([
      ["/resources/memory/max_gib", 2],
      [`${PARAMS}/memory_gib/default`, 4],
    ]),
    expect: [
      [`${PARAMS}/memory_gib/default`, "profile.resources.default_above_maximum"],
      ["/resources/memory/max_gib", "profile.resources.inconsistent"],
    ],
  },
  {
    rule: "gpu.default_count equals the gpu_count parameter default",
    manifest: mutate("/resources/gpu/default_count", 2),
    expect: [["/resources/gpu/default_count", "profile.resources.inconsistent"]],
  },
  {
    rule: "gpu.default_count is within the gpu_count parameter's bounds",
    manifest: change([
      [`${PARAMS}/gpu_count/default`],
      ["/resources/gpu/default_count", 0],
      [`${PARAMS}/gpu_count/minimum`, 1],
    ]),
    expect: [["/resources/gpu/default_count", "profile.resources.inconsistent"]],
  },
  {
    rule: "a parameter maximum leaves room above the resource minimum",
    manifest: change([
      [`${PARAMS}/cpu_cores/maximum`, 1],
      [`${PARAMS}/cpu_cores/default`, 1],
    ]),
    expect: [
      [`${PARAMS}/cpu_cores/default`, "profile.resources.default_below_minimum"],
      [`${PARAMS}/cpu_cores/maximum`, "profile.resources.inconsistent"],
    ],
  },
  {
    rule: "a parameter minimum leaves room below the resource maximum",
    manifest: change([
      ["/resources/cpu/max_cores", 4],
      [`${PARAMS}/cpu_cores/minimum`, 8],
      [`${PARAMS}/cpu_cores/default`, 8],
    ]),
    expect: [
      [`${PARAMS}/cpu_cores/default`, "profile.resources.default_above_maximum"],
      [`${PARAMS}/cpu_cores/minimum`, "profile.resources.inconsistent"],
    ],
  },
];

const storageCases: Case[] = [
  {
    rule: "mount names are unique",
    manifest: mutate("/storage/mounts/-", {
      name: "workspace",
      path: "/data",
      modes: ["scratch", "project_storage"],
    }),
    expect: [["/storage/mounts/1/name", "profile.storage.duplicate_mount"]],
  },
  {
    rule: "mount paths are unique",
    manifest: mutate("/storage/mounts/-", { name: "data", path: "/workspace", modes: ["scratch"] }),
    expect: [["/storage/mounts/1/path", "profile.storage.duplicate_mount"]],
  },
  {
    rule: "the mount-mode parameter offers only modes the mount allows",
    manifest: mutate("/storage/mounts/0/modes", ["scratch"]),
    expect: [[`${PARAMS}/workspace_mount/enum/1`, "profile.storage.mode_mismatch"]],
  },
  {
    rule: "the mount-mode default is a mode the mount allows",
    manifest: mutate("/storage/mounts/0/modes", ["project_storage"]),
    expect: [
      [`${PARAMS}/workspace_mount/default`, "profile.storage.mode_mismatch"],
      [`${PARAMS}/workspace_mount/enum/0`, "profile.storage.mode_mismatch"],
    ],
  },
  {
    rule: "a mount path is normalized",
    manifest: mutate("/storage/mounts/0/path", "/workspace/../etc"),
    expect: [["/storage/mounts/0/path", "profile.storage.path_invalid"]],
  },
  {
    rule: "a mount path is absolute",
    manifest: mutate("/storage/mounts/0/path", "workspace"),
    expect: [["/storage/mounts/0/path", "profile.schema.pattern"]],
  },
];

const endpointCases: Case[] = [
  {
    rule: "endpoint names are unique",
    manifest: mutate("/network/endpoints/-", v11Endpoint("web", 9000)),
    expect: [["/network/endpoints/1/name", "profile.endpoint.duplicate_name"]],
  },
  {
    rule: "endpoint ports are unique",
    manifest: mutate("/network/endpoints/-", v11Endpoint("api", 8888)),
    expect: [["/network/endpoints/1/port", "profile.endpoint.duplicate_port"]],
  },
  {
    rule: "an output names a declared endpoint",
    manifest: mutate("/outputs/endpoints/0/source", "network.endpoints.notebook"),
    expect: [["/outputs/endpoints/0/source", "profile.endpoint.unknown_reference"]],
  },
  {
    rule: "a readiness probe names a declared endpoint",
    manifest: mutate("/validation/readiness/0/endpoint", "notebook"),
    expect: [["/validation/readiness/0/endpoint", "profile.endpoint.unknown_reference"]],
  },
  {
    rule: "a smoke check names a declared endpoint",
    manifest: mutate("/validation/smoke/-", { name: "lab_page", type: "http", endpoint: "lab" }),
    expect: [["/validation/smoke/1/endpoint", "profile.endpoint.unknown_reference"]],
  },
  {
    rule: "a compose topology service names declared endpoints",
    manifest: mutate("/execution/compose/topology/services/0/endpoints/0", "notebook", extended()),
    expect: [
      ["/execution/compose/topology/services/0/endpoints/0", "profile.endpoint.unknown_reference"],
    ],
  },
  {
    rule: "the platform_admin route family is reserved",
    manifest: mutate(`${INGRESS}/route_family`, "platform_admin"),
    expect: [[`${INGRESS}/route_family`, "profile.endpoint.reserved_route_family"]],
  },
  {
    rule: "the terminal_ws route family is reserved",
    manifest: mutate(`${INGRESS}/route_family`, "terminal_ws"),
    expect: [[`${INGRESS}/route_family`, "profile.endpoint.reserved_route_family"]],
  },
  {
    rule: "route_family fits client_auth_mode",
    manifest: mutate(`${INGRESS}/route_family`, "api_app"),
    expect: [[`${INGRESS}/route_family`, "profile.endpoint.route_family_mismatch"]],
  },
  {
    rule: "route_family api_app fits api_bearer",
    manifest: change([
      [`${INGRESS}/client_auth_mode`, "api_bearer"],
      [`${INGRESS}/route_family`, "browser_app"],
    ]),
    expect: [[`${INGRESS}/route_family`, "profile.endpoint.route_family_mismatch"]],
  },
  {
    rule: "an endpoint declares its type",
    manifest: without(`${ENDPOINT}/type`),
    expect: [[`${ENDPOINT}/type`, "profile.endpoint.missing_type"]],
  },
  {
    rule: "a v1.1 endpoint declares its auth pattern",
    manifest: without(`${ENDPOINT}/auth_pattern`),
    expect: [[`${ENDPOINT}/auth_pattern`, "profile.endpoint.missing_auth_pattern"]],
  },
  {
    rule: "legacy protocol agrees with type",
    manifest: mutate(`${ENDPOINT}/protocol`, "tcp"),
    expect: [
      [ENDPOINT, "profile.endpoint.legacy_fields"],
      [`${ENDPOINT}/protocol`, "profile.endpoint.legacy_conflict"],
    ],
  },
  {
    rule: "legacy exposure_modes agree with managed_ingress.enabled",
    manifest: mutate(`${ENDPOINT}/exposure_modes`, ["private"]),
    expect: [
      [ENDPOINT, "profile.endpoint.legacy_fields"],
      [`${ENDPOINT}/exposure_modes`, "profile.endpoint.legacy_conflict"],
    ],
  },
  {
    rule: "legacy platform_proxy agrees with route_mode",
    manifest: mutate(`${ENDPOINT}/exposure_modes`, ["platform_proxy"]),
    expect: [
      [ENDPOINT, "profile.endpoint.legacy_fields"],
      [`${INGRESS}/route_mode`, "profile.endpoint.legacy_conflict"],
    ],
  },
  {
    rule: "legacy proxy.default_open_path agrees with managed_ingress",
    manifest: mutate(`${ENDPOINT}/proxy`, { default_open_path: "/tree" }),
    expect: [
      [ENDPOINT, "profile.endpoint.legacy_fields"],
      [`${ENDPOINT}/proxy/default_open_path`, "profile.endpoint.legacy_conflict"],
    ],
  },
  {
    rule: "legacy proxy.websocket_required agrees with managed_ingress",
    manifest: mutate(`${ENDPOINT}/proxy`, { websocket_required: false }),
    expect: [
      [ENDPOINT, "profile.endpoint.legacy_fields"],
      [`${ENDPOINT}/proxy/websocket_required`, "profile.endpoint.legacy_conflict"],
    ],
  },
  {
    rule: "websocket_required only with managed ingress",
    manifest: change([
      [`${INGRESS}/enabled`, false],
      [`${PARAMS}/exposure_mode/enum`, ["private"]],
    ]),
    expect: [[INGRESS, "profile.endpoint.websocket_without_ingress"]],
  },
  {
    rule: "exposure_mode offers managed_ingress only when an endpoint has it",
    manifest: change([
      [`${INGRESS}/enabled`, false],
      [`${INGRESS}/websocket_required`, false],
    ]),
    expect: [[`${PARAMS}/exposure_mode/enum/1`, "profile.endpoint.exposure_unsupported"]],
  },
];

const executionCases: Case[] = [
  {
    rule: "the default engine is active",
    manifest: mutate("/execution/supported_engines/0/status", "future"),
    expect: [["/execution/default_engine", "profile.execution.default_engine_inactive"]],
  },
  {
    rule: "the default engine is listed",
    manifest: mutate("/execution/default_engine", "kubernetes"),
    expect: [["/execution/default_engine", "profile.execution.default_engine_inactive"]],
  },
  {
    rule: "an engine is listed once",
    manifest: mutate("/execution/supported_engines/-", {
      engine: "helm",
      adapter: "helm_values",
      status: "future",
    }),
    expect: [["/execution/supported_engines/3/engine", "profile.execution.duplicate_engine"]],
  },
  {
    rule: "docker_compose names a renderer",
    manifest: change([
      ["/execution/default_engine", "docker_compose"],
      ["/execution/supported_engines/1/status", "active"],
    ]),
    expect: [["/execution/compose", "profile.execution.compose_renderer_missing"]],
  },
  {
    rule: "an active docker_compose engine names a renderer",
    manifest: mutate("/execution/supported_engines/1/status", "active"),
    expect: [["/execution/compose", "profile.execution.compose_renderer_missing"]],
  },
  {
    rule: "a compose block has a renderer",
    manifest: without("/execution/compose/renderer", extended()),
    expect: [["/execution/compose/renderer", "profile.schema.required"]],
  },
  {
    rule: "compose services name declared mounts",
    manifest: mutate("/execution/compose/topology/services/0/mounts/0", "models", extended()),
    expect: [
      [
        "/execution/compose/topology/services/0/mounts/0",
        "profile.execution.compose_unknown_mount",
      ],
    ],
  },
  {
    rule: "compose service names are unique",
    manifest: mutate(
      "/execution/compose/topology/services/-",
      { name: "lab", role: "sidecar" },
      extended(),
    ),
    expect: [
      [
        "/execution/compose/topology/services/1/name",
        "profile.execution.compose_duplicate_service",
      ],
    ],
  },
  {
    rule: "container_env leaves GPUAAS_ variables to the platform",
    manifest: mutate("/execution/container_env/GPUAAS_TOKEN", "x"),
    expect: [["/execution/container_env/GPUAAS_TOKEN", "profile.execution.env_reserved"]],
  },
  {
    rule: "a command_args placeholder names a declared parameter",
    manifest: mutate("/execution/command_args", ["--port=${host_port}", "--model=${modle}"]),
    expect: [["/execution/command_args/1", "profile.execution.unknown_placeholder"]],
  },
  {
    rule: "a container_env placeholder names a declared parameter",
    manifest: mutate(
      "/execution/container_env/PACKAGES",
      "${python_packages} ${Bad-Name} $${literal}",
    ),
    expect: [["/execution/container_env/PACKAGES", "profile.execution.unknown_placeholder"]],
  },
  {
    rule: "command_args is a list",
    manifest: mutate("/execution/command_args", "jupyter lab --ip 0.0.0.0"),
    expect: [["/execution/command_args", "profile.schema.type"]],
  },
  {
    rule: "command_args is not empty",
    manifest: mutate("/execution/command_args", []),
    expect: [["/execution/command_args", "profile.schema.length"]],
  },
  {
    rule: "command_args is bounded",
    manifest: mutate("/execution/command_args", new Array(65).fill("--flag")),
    expect: [["/execution/command_args", "profile.schema.length"]],
  },
  {
    rule: "command_args holds strings",
    manifest: mutate("/execution/command_args", ["jupyter", 8888]),
    expect: [["/execution/command_args/1", "profile.schema.type"]],
  },
  {
    rule: "a command argument is not empty",
    manifest: mutate("/execution/command_args", ["jupyter", ""]),
    expect: [["/execution/command_args/1", "profile.schema.length"]],
  },
  {
    rule: "a command argument is bounded",
    manifest: mutate("/execution/command_args", ["x".repeat(4097)]),
    expect: [["/execution/command_args/0", "profile.schema.length"]],
  },
  {
    rule: "a command argument has no NUL",
    manifest: mutate("/execution/command_args", ["jupyter\u0000lab"]),
    expect: [["/execution/command_args/0", "profile.schema.pattern"]],
  },
];

const outputCases: Case[] = [
  {
    rule: "output names are unique",
    manifest: mutate("/outputs/commands/-", { name: "inspect", command: "gpuaas apps logs" }),
    expect: [["/outputs/commands/1/name", "profile.outputs.duplicate_name"]],
  },
  {
    rule: "check names are unique",
    manifest: mutate("/validation/smoke/-", { name: "container_running", type: "adapter_status" }),
    expect: [["/validation/smoke/1/name", "profile.validation.duplicate_name"]],
  },
  {
    rule: "a profile with endpoints declares readiness",
    manifest: mutate("/validation/readiness", []),
    expect: [["/validation/readiness", "profile.validation.no_readiness"]],
  },
  {
    rule: "a profile without a validation section is told where readiness goes",
    manifest: without("/validation"),
    expect: [["/validation", "profile.validation.no_readiness"]],
  },
];

const security = (support: string, section: Manifest): Manifest =>
  change([
    ["/profile/support_level", support],
    ["/security", section],
  ]);
const APPROVAL = { approved_by: "platform-security", reference: "SEC-2026-014" };
const HOST_MOUNT = { host_path: "/srv/datasets", path: "/datasets", read_only: true };

const securityCases: Case[] = [
  {
    rule: "privileged needs approval on a curated profile",
    manifest: security("platform_curated", { privileged: true }),
    expect: [["/security/privileged", "profile.security.elevated_not_approved"]],
  },
  {
    rule: "privileged is refused for profiles that are not curated, even approved",
    manifest: security("community", { privileged: true, approval: APPROVAL }),
    expect: [["/security/privileged", "profile.security.elevated_not_approved"]],
  },
  {
    rule: "host mounts need approval on a curated profile",
    manifest: security("platform_curated", { host_mounts: [HOST_MOUNT] }),
    expect: [["/security/host_mounts", "profile.security.elevated_not_approved"]],
  },
  {
    rule: "host mounts are refused for partner profiles, even approved",
    manifest: security("partner_supported", { host_mounts: [HOST_MOUNT], approval: APPROVAL }),
    expect: [["/security/host_mounts", "profile.security.elevated_not_approved"]],
  },
  {
    rule: "an approved host mount path is normalized",
    manifest: security("platform_curated", {
      host_mounts: [{ ...HOST_MOUNT, host_path: "/srv/../etc" }],
      approval: APPROVAL,
    }),
    expect: [["/security/host_mounts/0/host_path", "profile.security.host_path_invalid"]],
  },
];

const ALL_CASES: Record<string, Case[]> = {
  document: documentCases,
  schema: schemaCases,
  "closed enums": enumCases,
  parameters: parameterCases,
  "parameters.ui": uiCases,
  "launch wizard": wizardCases,
  artifacts: artifactCases,
  resources: resourceCases,
  storage: storageCases,
  endpoints: endpointCases,
  execution: executionCases,
  "outputs and checks": outputCases,
  security: securityCases,
};

for (const [section, cases] of Object.entries(ALL_CASES)) {
  describe(`validateProfile rules: ${section}`, () => {
    for (const { rule, manifest, expect } of cases) {
      it(rule, () => {
        const result = validateProfile(manifest);
        assert.deepEqual(
          result.issues.map((issue) => [issue.pointer, issue.code]),
          expect,
        );
        for (const issue of result.issues) {
          assert.equal(issue.severity, ISSUE_CODES[issue.code].severity);
          assert.ok(issue.message.length > 10, `${issue.code} has a sentence`);
        }
        const errors = result.issues.some((issue) => issue.severity === "error");
        assert.equal(result.ok, !errors);
        assert.equal(result.profile === undefined, errors);
      });
    }
  });
}

describe("validateProfile: approved elevation", () => {
  it("accepts privileged and host mounts on a curated, approved profile", () => {
    const manifest = security("platform_curated", {
      privileged: true,
      host_mounts: [HOST_MOUNT],
      approval: APPROVAL,
    });
    assert.deepEqual(issuesOf(manifest), []);
  });
});

describe("validateProfile: reports every problem at once", () => {
  it("lists problems from different sections together, sorted by pointer", () => {
    const manifest = change([
      ["/profile/slug", "Bad Slug"],
      [`${INGRESS}/route_family`, "terminal_ws"],
      ["/parameters/ui/order/-", "nope"],
      ["/artifacts/primary_image/digest", "sha256:00"],
    ]);
    const pointers = validateProfile(manifest).issues.map((issue) => issue.pointer);
    assert.deepEqual(pointers, [
      "/artifacts/primary_image/digest",
      `${INGRESS}/route_family`,
      "/parameters/ui/order/7",
      "/profile/slug",
    ]);
  });

  it("still runs the semantic rules when the schema fails", () => {
    const manifest = change([
      ["/resources/gpu/min_count", "zero"],
      [`${WIZARD}/1/components/1/name`, "nope"],
    ]);
    assert.deepEqual(issuesOf(manifest), [
      [`${WIZARD}/1/components/1/name`, "profile.wizard.unknown_field"],
      ["/resources/gpu/min_count", "profile.schema.type"],
    ]);
  });
});

describe("validateProfile: every profile code has a rule test", () => {
  it("covers each document.* and profile.* code in the catalogue", () => {
    const tested = new Set(
      Object.values(ALL_CASES)
        .flat()
        .flatMap((c) => c.expect.map(([, code]) => code)),
    );
    tested.add("profile.schema.unknown_key"); // the closed-levels suite above
    // The fallback for a JSON Schema keyword without a dedicated code; the profile schema uses no
    // such keyword today, so nothing can produce it.
    const fallback = new Set(["profile.schema.invalid"]);
    const missing = Object.keys(ISSUE_CODES).filter(
      (code) =>
        (code.startsWith("profile.") || code.startsWith("document.")) &&
        !tested.has(code as IssueCode) &&
        !fallback.has(code),
    );
    assert.deepEqual(missing, []);
  });
});
