import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkAuthoringGate } from "./authoring-gate.js";
import { hasErrors, ISSUE_CODES, type Issue } from "./issues.js";
import { resolveLaunch } from "./resolve-launch.js";
import {
  baseline,
  baselineProfile,
  launchRequest,
  legacyWebEndpoint,
  type Manifest,
  mutate,
  parsePointer,
  resolvePointer,
  without,
} from "./test-fixtures.js";
import type { WorkloadProfile } from "./types.js";
import { validateProfile } from "./validate-profile.js";

const PARAMS = "/parameters/schema/properties";

// Bounded so the whole file runs in a few seconds; raise locally when hunting.
const RUNS = { numRuns: 250 } as const;

/**
 * The pointer contract of an issue: it resolves to a value in the input, or its parent resolves
 * to an object and the last token names a key that object lacks (a missing key).
 */
function pointerProblem(input: unknown, issue: Issue): string | undefined {
  if (resolvePointer(input, issue.pointer).found) return undefined;
  const tokens = parsePointer(issue.pointer);
  const last = tokens.pop();
  const parentPointer = tokens.map((t) => `/${t.replaceAll("~", "~0").replaceAll("/", "~1")}`);
  const parent = resolvePointer(input, parentPointer.join(""));
  if (
    last !== undefined &&
    parent.found &&
    typeof parent.value === "object" &&
    parent.value !== null &&
    !Array.isArray(parent.value) &&
    !Object.hasOwn(parent.value, last)
  ) {
    return undefined;
  }
  return `${issue.code} at ${JSON.stringify(issue.pointer)} resolves to nothing in the input`;
}

function checkIssues(input: unknown, issues: readonly Issue[]): void {
  for (const issue of issues) {
    assert.ok(Object.hasOwn(ISSUE_CODES, issue.code), `${issue.code} is in the catalogue`);
    assert.equal(issue.severity, ISSUE_CODES[issue.code].severity);
    assert.equal(typeof issue.message, "string");
    assert.ok(issue.message.length > 0);
    const problem = pointerProblem(input, issue);
    assert.equal(problem, undefined, problem);
  }
}

/** Checks one validation; true when the manifest was valid. */
function checkValidation(manifest: unknown): boolean {
  const result = validateProfile(manifest);
  checkIssues(manifest, result.issues);
  const pointers = result.issues.map((issue) => issue.pointer);
  assert.deepEqual(pointers, [...pointers].sort(), "issues are sorted by pointer");
  assert.equal(result.ok, !hasErrors(result.issues));
  assert.equal(result.profile !== undefined, result.ok);
  if (result.profile !== undefined) checkUsableProfile(result.profile);
  return result.ok;
}

/** What a validated profile promises: it normalizes to itself and resolves launches. */
function checkUsableProfile(profile: WorkloadProfile): void {
  const again = validateProfile(JSON.parse(JSON.stringify(profile)));
  assert.equal(again.ok, true, JSON.stringify(again.issues));
  assert.deepEqual(again.profile, profile);
  for (const request of [launchRequest(), { app_slug: profile.profile.slug }]) {
    const resolution = resolveLaunch(profile, request);
    checkIssues(request, resolution.issues);
  }
}

// Values that occur in a valid manifest, so mutations often stay meaningful instead of only
// tripping the schema.
function scalarsOf(value: unknown, found = new Set<unknown>()): Set<unknown> {
  if (typeof value === "object" && value !== null) {
    for (const child of Object.values(value)) scalarsOf(child, found);
  } else {
    found.add(value);
  }
  return found;
}
const KNOWN_VALUES = [
  ...scalarsOf(baseline()),
  ...scalarsOf(legacyWebEndpoint()),
  "platform_admin",
  "api_bearer",
  "docker_compose",
  "platform_proxy",
  "sha256:00",
  "GPUAAS_X",
  // Names that are properties of every object, to catch lookups that reach the prototype.
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  -1,
  1e9,
];

function pointersOf(value: unknown, pointer = "", found: string[] = []): string[] {
  found.push(pointer);
  if (typeof value === "object" && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      pointersOf(child, `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`, found);
    }
  }
  return found;
}

type Mutation =
  | { readonly op: "delete"; readonly at: number }
  | { readonly op: "replace"; readonly at: number; readonly value: unknown }
  | { readonly op: "add"; readonly at: number; readonly key: string; readonly value: unknown };

const jsonValue = fc.jsonValue({ maxDepth: 3 });
const anyValue = fc.oneof(jsonValue, fc.constantFrom(...KNOWN_VALUES));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), value: anyValue }),
  fc.record({
    op: fc.constant("add" as const),
    at: fc.nat(),
    key: fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom("x_unknown", "__proto__", "constructor", "toString", "a/b~c"),
    ),
    value: anyValue,
  }),
);

function apply(document: Manifest, change: Mutation): Manifest {
  const pointers = pointersOf(document).filter((pointer) => pointer !== "");
  if (change.op === "add") {
    const objects = ["", ...pointers].filter((pointer) => {
      const target = resolvePointer(document, pointer);
      return target.found && typeof target.value === "object" && target.value !== null;
    });
    const at = objects[change.at % objects.length] ?? "";
    const target = resolvePointer(document, at);
    if (!target.found || Array.isArray(target.value))
      return mutate(`${at}/-`, change.value, document);
    const copy = structuredClone(document);
    const object = resolvePointer(copy, at) as { value: Record<string, unknown> };
    Object.defineProperty(object.value, change.key, {
      value: change.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
    return copy;
  }
  const at = pointers[change.at % pointers.length];
  if (at === undefined) return document;
  if (change.op === "replace") return mutate(at, change.value, document);
  const tokens = parsePointer(at);
  const copy = structuredClone(document);
  const parentPointer = at.slice(0, at.lastIndexOf("/"));
  const parent = resolvePointer(copy, parentPointer);
  const key = tokens[tokens.length - 1] ?? "";
  if (parent.found && Array.isArray(parent.value)) parent.value.splice(Number(key), 1);
  else if (parent.found) delete (parent.value as Record<string, unknown>)[key];
  return copy;
}

const mutatedBaseline = fc
  .tuple(
    fc.constantFrom(baseline(), mutate("/network/endpoints/0", legacyWebEndpoint())),
    fc.array(mutation, { minLength: 1, maxLength: 4 }),
  )
  .map(([start, changes]) => changes.reduce(apply, start));

describe("validateProfile never throws and points into its input", () => {
  it("on any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        checkValidation(value);
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          assert.deepEqual(
            validateProfile(value).issues.map((issue) => issue.code),
            ["document.not_object"],
          );
        }
      }),
      RUNS,
    );
  });

  it("on any object of profile-like sections", () => {
    const section = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.constantFrom(...Object.values(baseline())),
    );
    const sections = fc.record(
      Object.fromEntries(Object.keys(baseline()).map((key) => [key, section])),
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(sections, (manifest) => {
        checkValidation(manifest);
      }),
      RUNS,
    );
  });

  it("on values JSON cannot even represent", () => {
    const strange = fc.anything({
      maxDepth: 4,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    });
    fc.assert(
      fc.property(
        fc.oneof(
          strange,
          fc
            .tuple(fc.nat(), strange)
            .map(([at, value]) => apply(baseline(), { op: "replace", at, value })),
          strange.map((value) => mutate(`${PARAMS}/host_port/examples`, [value])),
        ),
        (value) => {
          const result = validateProfile(value);
          assert.equal(result.ok, !hasErrors(result.issues));
        },
      ),
      RUNS,
    );
  });

  it("on a JSON object with its own toString or valueOf key at every position", () => {
    // JSON.parse gives such objects their own non-callable toString; String(value) and template
    // literals then throw. Exhaustive over the baseline and its legacy variant, not sampled.
    const hostile = [
      '{"toString":0}',
      '{"toString":0,"valueOf":0}',
      '[{"toString":0}]',
      '[{"toString":0,"valueOf":0}]',
    ];
    const starts = [baseline(), mutate("/network/endpoints/0", legacyWebEndpoint())];
    let tried = 0;
    for (const start of starts) {
      for (const pointer of pointersOf(start)) {
        if (pointer === "") continue;
        for (const text of hostile) {
          const manifest = mutate(pointer, JSON.parse(text), start);
          assert.doesNotThrow(() => checkValidation(manifest), `${text} at ${pointer}`);
          assert.doesNotThrow(() => checkAuthoringGate(manifest), `gate: ${text} at ${pointer}`);
          tried += 1;
        }
      }
    }
    const request = launchRequest();
    for (const pointer of pointersOf(request)) {
      if (pointer === "") continue;
      for (const text of hostile) {
        const changed = mutate(pointer, JSON.parse(text), request);
        const resolution = resolveLaunch(baselineProfile(), changed);
        checkIssues(changed, resolution.issues);
        tried += 1;
      }
    }
    assert.ok(tried > 500, `${tried} documents tried`);
  });

  it("on random mutations of the valid baseline", () => {
    let usable = 0;
    const runs = 600;
    fc.assert(
      fc.property(mutatedBaseline, (manifest) => {
        if (checkValidation(manifest)) usable += 1;
      }),
      { numRuns: runs },
    );
    // About one mutant in twenty stays valid; enough for the usable-profile checks to run.
    assert.ok(usable >= 10, `${usable} of ${runs} mutants were valid`);
  });
});

const parameterType = fc.constantFrom("string", "integer", "number", "boolean", "array");
const smallNumber = fc.oneof(
  fc.integer({ min: -5, max: 100 }),
  fc.double({ min: -5, max: 100, noNaN: true }),
);
const parameterValue = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  smallNumber,
  fc.string({ maxLength: 6 }),
  fc.array(fc.oneof(fc.string({ maxLength: 3 }), smallNumber), { maxLength: 3 }),
);
const stringEnum = fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 3 });
const numberEnum = fc.array(smallNumber, { minLength: 1, maxLength: 3 });
const optional = { requiredKeys: ["type"] as "type"[] };
/** A parameter schema of each type with the keywords of that type, plus any mix at all. */
const parameterSchema = fc.oneof(
  fc.record(
    {
      type: fc.constant("string"),
      enum: stringEnum,
      default: parameterValue,
      minLength: fc.nat(8),
      maxLength: fc.nat(8),
      pattern: fc.constantFrom("^[a-z]+$", "^\\d{2}$", "(", "x*"),
    },
    optional,
  ),
  fc.record(
    {
      type: fc.constantFrom("integer", "number"),
      enum: numberEnum,
      default: parameterValue,
      minimum: smallNumber,
      maximum: smallNumber,
    },
    optional,
  ),
  fc.record({ type: fc.constant("boolean"), default: parameterValue }, optional),
  fc.record(
    {
      type: fc.constant("array"),
      items: fc.oneof(
        fc.record({ type: fc.constant("string"), enum: stringEnum }, optional),
        fc.record({ type: fc.constantFrom("integer", "number"), enum: numberEnum }, optional),
      ),
      default: parameterValue,
      minItems: fc.nat(3),
      maxItems: fc.nat(3),
      uniqueItems: fc.boolean(),
    },
    { requiredKeys: ["type", "items"] },
  ),
  fc.record(
    {
      type: parameterType,
      enum: fc.oneof(stringEnum, numberEnum),
      default: parameterValue,
      minimum: smallNumber,
      maxLength: fc.nat(8),
      items: fc.record({ type: fc.constantFrom("string", "integer") }),
      uniqueItems: fc.boolean(),
    },
    optional,
  ),
);

describe("any valid profile resolves any launch without throwing", () => {
  it("for profiles with an extra parameter of any shape", () => {
    let usable = 0;
    fc.assert(
      fc.property(parameterSchema, parameterValue, fc.boolean(), (schema, value, required) => {
        let manifest = mutate(`${PARAMS}/extra`, schema);
        if (required) {
          manifest = mutate("/parameters/schema/required/-", "extra", manifest);
          manifest = mutate(
            "/parameters/ui/launch_wizard/steps/1/components/-",
            { kind: "field", name: "extra" },
            manifest,
          );
        }
        if (!checkValidation(manifest)) return;
        usable += 1;
        const profile = validateProfile(manifest).profile as WorkloadProfile;
        for (const request of [
          mutate("/config/extra", value, launchRequest()),
          launchRequest(),
          without("/config", launchRequest()),
        ]) {
          const result = resolveLaunch(profile, request);
          checkIssues(request, result.issues);
          if (result.launch !== undefined && Object.hasOwn(result.launch.config, "extra")) {
            // What the resolver accepts, the profile's own schema accepts.
            const again = validateProfile(
              mutate(`${PARAMS}/extra/default`, result.launch.config.extra, manifest),
            );
            assert.deepEqual(
              again.issues.filter((issue) => issue.pointer.startsWith(`${PARAMS}/extra`)),
              [],
            );
          }
        }
      }),
      { numRuns: 400 },
    );
    assert.ok(usable >= 10, `${usable} of 400 extra parameters were valid`);
  });
});

describe("resolveLaunch never throws and points into its request", () => {
  const profile = baselineProfile();
  const configValue = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      "scratch",
      "project_storage",
      "private",
      "managed_ingress",
      "numpy==2.4.4 x>=1",
    ),
    fc.integer({ min: -10, max: 70000 }),
  );
  const structured = fc.record(
    {
      app_slug: fc.oneof(fc.constant("jupyterlab"), fc.jsonValue({ maxDepth: 1 })),
      app_version: fc.oneof(fc.constant("2026.04"), fc.jsonValue({ maxDepth: 1 })),
      display_name: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 1 })),
      placement_intent: fc.oneof(
        fc.record({ target_allocation_id: fc.oneof(fc.constant("alloc-1"), fc.string()) }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      artifact_id: fc.oneof(fc.constant("art-1"), fc.jsonValue({ maxDepth: 1 })),
      config: fc.oneof(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom(...Object.keys(profile.parameters.schema.properties)),
            fc.string({ maxLength: 8 }),
          ),
          configValue,
          { maxKeys: 6 },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      resource_overrides: fc.oneof(
        fc.dictionary(
          fc.oneof(
            fc.constantFrom("gpu_count", "cpu_cores", "memory_gib"),
            fc.string({ maxLength: 8 }),
          ),
          fc.oneof(fc.integer({ min: -2, max: 5000 }), fc.jsonValue({ maxDepth: 1 })),
          { maxKeys: 4 },
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      priority: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  );

  function checkResolution(request: unknown): void {
    const result = resolveLaunch(profile, request);
    checkIssues(request, result.issues);
    assert.equal(result.ok, !hasErrors(result.issues));
    assert.equal(result.launch !== undefined, result.ok);
    if (result.launch !== undefined) {
      const { gpu_count, cpu_cores, memory_gib } = result.launch.resources;
      assert.ok(gpu_count >= 0 && gpu_count <= 8);
      assert.ok(cpu_cores >= 2 && cpu_cores <= 128);
      assert.ok(memory_gib >= 4 && memory_gib <= 2048);
      assert.equal(result.launch.storage.length, 1);
    }
  }

  it("on any JSON value", () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 5 }), checkResolution), RUNS);
  });

  it("on requests shaped like launch requests", () => {
    fc.assert(fc.property(structured, checkResolution), { numRuns: 500 });
  });

  it("on values JSON cannot represent", () => {
    fc.assert(
      fc.property(
        fc.anything({
          maxDepth: 3,
          withBigInt: true,
          withNullPrototype: true,
          withSparseArray: true,
        }),
        (value) => {
          resolveLaunch(profile, value);
          resolveLaunch(profile, { ...launchRequest(), config: { python_packages: value } });
        },
      ),
      RUNS,
    );
  });
});
