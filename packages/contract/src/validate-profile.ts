import { createIssue, hasErrors, type Issue, toPointer } from "./issues.js";
import {
  type CompiledSchema,
  createSchemaCompiler,
  createValidator,
  profileKeywordCodes,
  toIssues,
} from "./json-schema.js";
import {
  DOCUMENT_LIMITS,
  findDocumentLimitBreach,
  integer,
  isRecord,
  type Loose,
  list,
  own,
  record,
  text,
} from "./loose.js";
import { normalizeProfile } from "./normalize-profile.js";
import { MAX_PYTHON_PACKAGES, parsePythonPackages } from "./pip-requirements.js";
import { findPlaceholders } from "./placeholders.js";
import { PROFILE_SCHEMA } from "./profile-schema.js";
import {
  EXPOSURE_MODE_PARAMETER,
  EXPOSURE_MODES,
  HOST_PORT_PARAMETER,
  MOUNT_MODE_PARAMETER_SUFFIX,
  PROFILE_KIND,
  PYTHON_PACKAGES_PARAMETER,
  RESERVED_ROUTE_FAMILIES,
  RESOURCE_PARAMETERS,
  SCHEMA_VERSIONS,
  type WorkloadProfile,
} from "./types.js";

/** What {@link validateProfile} found: every issue, and the normalized profile when it is usable. */
export interface ProfileValidation {
  /** True when no issue is an error (warnings may remain). */
  readonly ok: boolean;
  readonly issues: readonly Issue[];
  /** The normalized (v1.1) profile; present exactly when `ok` is true. */
  readonly profile: WorkloadProfile | undefined;
}

let compiledProfileSchema: CompiledSchema | undefined;
const compileParameterSchema = createSchemaCompiler();

function profileSchemaValidator(): CompiledSchema {
  if (compiledProfileSchema !== undefined) return compiledProfileSchema;
  const compiled = createValidator().compile(PROFILE_SCHEMA);
  compiledProfileSchema = compiled;
  return compiled;
}

/**
 * Validates a profile manifest against the contract and returns every problem it finds.
 *
 * It checks the canonical schema and the rules a schema cannot express (references between
 * sections, defaults against resource minimums, reserved values, security), accepts both the
 * v1.1 and the legacy endpoint fields, and never throws, whatever JSON value it is given.
 *
 * @example
 * const { ok, issues, profile } = validateProfile(YAML.parse(text));
 * if (!ok) for (const i of issues) console.log(i.pointer, i.code, i.message);
 */
export function validateProfile(manifest: unknown): ProfileValidation {
  if (!isRecord(manifest)) {
    return failed([
      createIssue(
        "",
        "document.not_object",
        `a profile manifest is an object, not ${kindOf(manifest)}`,
      ),
    ]);
  }
  const breach = findDocumentLimitBreach(manifest);
  if (breach === "too_deep") {
    return failed([
      createIssue(
        "",
        "document.too_deep",
        `the document nests deeper than ${DOCUMENT_LIMITS.maxDepth} levels`,
      ),
    ]);
  }
  if (breach === "not_json") {
    return failed([
      createIssue(
        "",
        "document.not_json",
        "the document holds a value JSON cannot represent (a bigint, function or symbol)",
      ),
    ]);
  }
  if (breach === "too_large") {
    return failed([
      createIssue(
        "",
        "document.too_large",
        `the document has more than ${DOCUMENT_LIMITS.maxValues} values or ${DOCUMENT_LIMITS.maxTextChars} characters of text`,
      ),
    ]);
  }
  const validate = profileSchemaValidator();
  validate(manifest);
  const issues = [
    ...toIssues(validate.errors, "", profileKeywordCodes).map(toKindIssue),
    ...checkSemantics(manifest),
  ];
  const sorted = sortIssues(issues);
  if (hasErrors(sorted)) return failed(sorted);
  return { ok: true, issues: sorted, profile: normalizeProfile(manifest) };
}

/**
 * A wrong `kind` or `schema_version` means the document is not a profile this contract reads, which
 * is worth its own code: the fix is a different tool or version, not an edit of one value.
 */
function toKindIssue(issue: Issue): Issue {
  if (issue.pointer === "/profile/kind" && issue.code === "profile.schema.const") {
    return createIssue(
      issue.pointer,
      "profile.kind.unsupported",
      `not a launchable OCI workload profile: kind must be "${PROFILE_KIND}"`,
    );
  }
  if (issue.pointer === "/profile/schema_version" && issue.code === "profile.schema.enum") {
    return createIssue(
      issue.pointer,
      "profile.kind.unsupported",
      `schema_version is not supported; this contract reads ${SCHEMA_VERSIONS.join(", ")}`,
    );
  }
  return issue;
}

function failed(issues: readonly Issue[]): ProfileValidation {
  return { ok: false, issues, profile: undefined };
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

function sortIssues(issues: readonly Issue[]): Issue[] {
  return [...issues].sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

/** Every semantic rule, run defensively on the raw manifest. */
function checkSemantics(manifest: Loose): Issue[] {
  const context = readContext(manifest);
  return [
    ...checkParameters(context),
    ...checkUi(context),
    ...checkWizard(context),
    ...checkArtifacts(context),
    ...checkResources(context),
    ...checkStorage(context),
    ...checkEndpoints(context),
    ...checkExecution(context),
    ...checkOutputsAndValidation(context),
    ...checkSecurity(context),
  ];
}

interface Context {
  readonly manifest: Loose;
  readonly properties: Loose;
  readonly declared: ReadonlySet<string>;
  readonly required: readonly unknown[];
  readonly endpoints: readonly unknown[];
  readonly endpointNames: ReadonlySet<string>;
  readonly mountNames: ReadonlySet<string>;
}

function readContext(manifest: Loose): Context {
  const parameters = record(own(manifest, "parameters"));
  const schema = record(own(parameters, "schema"));
  const properties = record(own(schema, "properties"));
  const endpoints = list(own(record(own(manifest, "network")), "endpoints"));
  const mounts = list(own(record(own(manifest, "storage")), "mounts"));
  return {
    manifest,
    properties,
    declared: new Set(Object.keys(properties)),
    required: list(own(schema, "required")),
    endpoints,
    endpointNames: new Set(
      endpoints.map((endpoint) => text(record(endpoint).name)).filter(isDefined),
    ),
    mountNames: new Set(mounts.map((mount) => text(record(mount).name)).filter(isDefined)),
  };
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}

const PARAMETERS_PATH = ["parameters", "schema", "properties"] as const;

function checkParameters(context: Context): Issue[] {
  const issues: Issue[] = [];
  context.required.forEach((name, index) => {
    if (typeof name === "string" && !context.declared.has(name)) {
      issues.push(
        createIssue(
          toPointer(["parameters", "schema", "required", index]),
          "profile.parameters.required_undeclared",
          `"${name}" is required but not declared in parameters.schema.properties`,
        ),
      );
    }
  });
  for (const [name, raw] of Object.entries(context.properties)) {
    const property = record(raw);
    const base = [...PARAMETERS_PATH, name];
    issues.push(...checkParameterSchema(property, base));
    issues.push(...checkReservedParameter(name, property, base));
    if (Object.hasOwn(property, "default"))
      issues.push(...checkParameterDefault(name, property, base));
  }
  return issues;
}

/** The type-specific keywords a parameter schema may use, by parameter type. */
const KEYWORDS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  string: ["enum", "minLength", "maxLength", "pattern"],
  integer: ["enum", "minimum", "maximum"],
  number: ["enum", "minimum", "maximum"],
  boolean: [],
  array: ["items", "minItems", "maxItems", "uniqueItems"],
};
const TYPED_KEYWORDS = [
  "enum",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "items",
  "minItems",
  "maxItems",
  "uniqueItems",
] as const;

function checkParameterSchema(property: Loose, base: readonly string[]): Issue[] {
  const issues: Issue[] = [];
  const type = text(property.type);
  const bounds: [string, string][] = [
    ["minimum", "maximum"],
    ["minLength", "maxLength"],
    ["minItems", "maxItems"],
  ];
  for (const [low, high] of bounds) {
    const min = property[low];
    const max = property[high];
    if (typeof min === "number" && typeof max === "number" && min > max) {
      issues.push(
        createIssue(
          toPointer([...base, low]),
          "profile.parameters.schema_invalid",
          `${low} ${min} is greater than ${high} ${max}`,
        ),
      );
    }
  }
  const applicable =
    type !== undefined && Object.hasOwn(KEYWORDS_BY_TYPE, type)
      ? KEYWORDS_BY_TYPE[type]
      : undefined;
  if (applicable !== undefined) {
    for (const keyword of TYPED_KEYWORDS) {
      if (Object.hasOwn(property, keyword) && !applicable.includes(keyword)) {
        issues.push(
          createIssue(
            toPointer([...base, keyword]),
            "profile.parameters.schema_invalid",
            `"${keyword}" does not apply to a parameter of type "${type}"${type === "array" && keyword === "enum" ? '; put the allowed values in "items.enum"' : ""}`,
          ),
        );
      }
    }
  }
  if (applicable?.includes("enum")) {
    list(property.enum).forEach((value, index) => {
      const fits =
        (type === "string" && typeof value === "string") ||
        (type === "integer" && Number.isInteger(value)) ||
        (type === "number" && typeof value === "number");
      if (!fits) {
        issues.push(
          createIssue(
            toPointer([...base, "enum", index]),
            "profile.parameters.schema_invalid",
            `enum value ${JSON.stringify(value)} is not of the parameter's type "${type}"`,
          ),
        );
      }
    });
  }
  if (type === "array" && !isRecord(property.items)) {
    issues.push(
      createIssue(
        toPointer([...base, "items"]),
        "profile.parameters.schema_invalid",
        'a list parameter declares its "items"',
      ),
    );
  }
  const pattern = text(property.pattern);
  if (pattern !== undefined && !isValidPattern(pattern)) {
    issues.push(
      createIssue(
        toPointer([...base, "pattern"]),
        "profile.parameters.schema_invalid",
        "pattern is not a valid regular expression",
      ),
    );
  }
  return issues;
}

function isValidPattern(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

function checkReservedParameter(name: string, property: Loose, base: readonly string[]): Issue[] {
  const type = text(property.type);
  const expectation = reservedType(name);
  if (expectation === undefined || type === undefined) return [];
  const issues: Issue[] = [];
  if (type !== expectation) {
    issues.push(
      createIssue(
        toPointer([...base, "type"]),
        "profile.parameters.reserved_type",
        `"${name}" is a platform parameter and must be of type "${expectation}", not "${type}"`,
      ),
    );
  }
  if (name === EXPOSURE_MODE_PARAMETER && !Array.isArray(property.enum)) {
    issues.push(
      createIssue(
        toPointer(base),
        "profile.parameters.reserved_type",
        `"exposure_mode" lists the modes a user may pick in "enum" (some of ${EXPOSURE_MODES.join(", ")})`,
      ),
    );
  }
  if (name === PYTHON_PACKAGES_PARAMETER && typeof property.default === "string") {
    issues.push(...checkPackagesDefault(property.default, [...base, "default"]));
  }
  if (name === EXPOSURE_MODE_PARAMETER) {
    list(property.enum).forEach((value, index) => {
      if (!(EXPOSURE_MODES as readonly unknown[]).includes(value)) {
        issues.push(
          createIssue(
            toPointer([...base, "enum", index]),
            "profile.parameters.reserved_type",
            `exposure mode ${JSON.stringify(value)} is not one of ${EXPOSURE_MODES.join(", ")}`,
          ),
        );
      }
    });
  }
  if (name === HOST_PORT_PARAMETER) {
    const minimum = property.minimum;
    const maximum = property.maximum;
    if (
      typeof minimum !== "number" ||
      minimum < 1024 ||
      typeof maximum !== "number" ||
      maximum > 65535
    ) {
      issues.push(
        createIssue(
          toPointer(base),
          "profile.parameters.reserved_type",
          '"host_port" must set minimum >= 1024 and maximum <= 65535 so users cannot ask for privileged ports',
        ),
      );
    }
  }
  return issues;
}

function checkPackagesDefault(value: string, path: readonly string[]): Issue[] {
  const { packages, problems } = parsePythonPackages(value);
  const issues = problems.map((problem) =>
    createIssue(
      toPointer(path),
      "profile.parameters.default_invalid",
      `default of "python_packages", entry ${problem.index + 1} "${problem.token}": ${problem.reason}`,
    ),
  );
  if (packages.length > MAX_PYTHON_PACKAGES) {
    issues.push(
      createIssue(
        toPointer(path),
        "profile.parameters.default_invalid",
        `default of "python_packages" lists ${packages.length} packages; at most ${MAX_PYTHON_PACKAGES}`,
      ),
    );
  }
  return issues;
}

function reservedType(name: string): string | undefined {
  if ((RESOURCE_PARAMETERS as readonly string[]).includes(name) || name === HOST_PORT_PARAMETER)
    return "integer";
  if (name === PYTHON_PACKAGES_PARAMETER || name === EXPOSURE_MODE_PARAMETER) return "string";
  return undefined;
}

function checkParameterDefault(name: string, property: Loose, base: readonly string[]): Issue[] {
  // A property schema that is itself broken is reported by the schema and checkParameterSchema;
  // compiling it here would only repeat that.
  if (
    !isRecord(property) ||
    typeof property.type !== "string" ||
    !isValidPattern(text(property.pattern) ?? "")
  )
    return [];
  let validate: CompiledSchema;
  try {
    validate = compileParameterSchema(stripAnnotations(property));
  } catch {
    return [];
  }
  if (validate(property.default)) return [];
  return toIssues(
    validate.errors,
    toPointer([...base, "default"]),
    () => "profile.parameters.default_invalid",
  ).map((issue) => ({
    ...issue,
    message: `default of "${name}" ${issue.message}`,
  }));
}

/** The property schema without annotations Ajv's strict mode would refuse in a sub-schema. */
function stripAnnotations(property: Loose): Loose {
  const { default: _default, examples: _examples, ...rest } = property;
  return rest;
}

function checkUi(context: Context): Issue[] {
  const issues: Issue[] = [];
  const ui = record(own(record(own(context.manifest, "parameters")), "ui"));
  const seenInOrder = new Set<string>();
  list(ui.order).forEach((name, index) => {
    if (typeof name !== "string") return;
    const pointer = toPointer(["parameters", "ui", "order", index]);
    if (!context.declared.has(name)) {
      issues.push(
        createIssue(
          pointer,
          "profile.ui.unknown_field",
          `ui.order names "${name}", which is not a declared parameter`,
        ),
      );
    } else if (seenInOrder.has(name)) {
      issues.push(
        createIssue(pointer, "profile.ui.duplicate_field", `ui.order lists "${name}" twice`),
      );
    }
    seenInOrder.add(name);
  });
  const groupIds = new Set<string>();
  const grouped = new Set<string>();
  list(ui.groups).forEach((rawGroup, groupIndex) => {
    const group = record(rawGroup);
    const id = text(group.id);
    if (id !== undefined) {
      if (groupIds.has(id)) {
        issues.push(
          createIssue(
            toPointer(["parameters", "ui", "groups", groupIndex, "id"]),
            "profile.ui.duplicate_group",
            `group id "${id}" is used twice`,
          ),
        );
      }
      groupIds.add(id);
    }
    list(group.fields).forEach((name, index) => {
      if (typeof name !== "string") return;
      const pointer = toPointer(["parameters", "ui", "groups", groupIndex, "fields", index]);
      if (!context.declared.has(name)) {
        issues.push(
          createIssue(
            pointer,
            "profile.ui.unknown_field",
            `group "${id ?? groupIndex}" names "${name}", which is not a declared parameter`,
          ),
        );
      } else if (grouped.has(name)) {
        issues.push(
          createIssue(
            pointer,
            "profile.ui.duplicate_field",
            `"${name}" belongs to more than one group`,
          ),
        );
      }
      grouped.add(name);
    });
  });
  return issues;
}

const SINGLE_USE_COMPONENTS = [
  "platform.target_allocation",
  "platform.artifact_selector",
  "platform.review",
];

function checkWizard(context: Context): Issue[] {
  const issues: Issue[] = [];
  const ui = record(own(record(own(context.manifest, "parameters")), "ui"));
  const steps = list(record(ui.launch_wizard).steps);
  const stepIds = new Set<string>();
  const fieldsInWizard = new Set<string>();
  const componentSeen = new Map<string, number>();
  let reviewStep: number | undefined;
  steps.forEach((rawStep, stepIndex) => {
    const step = record(rawStep);
    const id = text(step.id);
    const stepPath = ["parameters", "ui", "launch_wizard", "steps", stepIndex];
    if (id !== undefined) {
      if (stepIds.has(id)) {
        issues.push(
          createIssue(
            toPointer([...stepPath, "id"]),
            "profile.wizard.duplicate_step",
            `step id "${id}" is used twice`,
          ),
        );
      }
      stepIds.add(id);
    }
    list(step.components).forEach((rawComponent, componentIndex) => {
      const component = record(rawComponent);
      const kind = text(component.kind);
      const name = text(component.name);
      const path = [...stepPath, "components", componentIndex];
      if (kind === undefined) return;
      if (kind === "field") {
        if (name === undefined) {
          if (!Object.hasOwn(component, "name")) {
            issues.push(
              createIssue(
                toPointer([...path, "name"]),
                "profile.wizard.field_without_name",
                "a field component names the parameter it renders",
              ),
            );
          }
          return;
        }
        if (!context.declared.has(name)) {
          issues.push(
            createIssue(
              toPointer([...path, "name"]),
              "profile.wizard.unknown_field",
              `step "${id ?? stepIndex}" renders "${name}", which is not declared in parameters.schema.properties`,
            ),
          );
        } else if (fieldsInWizard.has(name)) {
          issues.push(
            createIssue(
              toPointer([...path, "name"]),
              "profile.wizard.duplicate_field",
              `"${name}" appears in the wizard twice`,
            ),
          );
        }
        fieldsInWizard.add(name);
        return;
      }
      if (Object.hasOwn(component, "name")) {
        issues.push(
          createIssue(
            toPointer([...path, "name"]),
            "profile.wizard.unexpected_name",
            `"${kind}" is a platform component and takes no name`,
          ),
        );
      }
      if (SINGLE_USE_COMPONENTS.includes(kind)) {
        const seen = componentSeen.get(kind) ?? 0;
        if (seen > 0) {
          issues.push(
            createIssue(
              toPointer([...path, "kind"]),
              "profile.wizard.duplicate_component",
              `"${kind}" may appear only once in the wizard`,
            ),
          );
        }
        componentSeen.set(kind, seen + 1);
      }
      if (kind === "platform.review") reviewStep = stepIndex;
    });
  });
  if (steps.length === 0) return issues;
  const launchMode = text(record(own(context.manifest, "profile")).launch_mode);
  if (launchMode === "existing_allocation" && !componentSeen.has("platform.target_allocation")) {
    issues.push(
      createIssue(
        "/parameters/ui/launch_wizard/steps",
        "profile.wizard.missing_target_allocation",
        "launch_mode existing_allocation needs a platform.target_allocation component so the user can pick the allocation",
      ),
    );
  }
  context.required.forEach((name, index) => {
    if (typeof name === "string" && context.declared.has(name) && !fieldsInWizard.has(name)) {
      issues.push(
        createIssue(
          toPointer(["parameters", "schema", "required", index]),
          "profile.wizard.required_unreachable",
          `"${name}" is required but no wizard step has a field component for it`,
        ),
      );
    }
  });
  if (reviewStep !== undefined && reviewStep !== steps.length - 1) {
    issues.push(
      createIssue(
        toPointer(["parameters", "ui", "launch_wizard", "steps", reviewStep]),
        "profile.wizard.review_not_last",
        "platform.review summarizes every choice, so it belongs in the last step",
      ),
    );
  }
  return issues;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
// OCI distribution repository name: path components of lowercase alphanumerics and separators.
const REPOSITORY_NAME =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/**
 * A selector entry as comparable text. The schema already rejects non-strings; this only has to
 * never throw, and String() does on a JSON object with its own "toString" key.
 */
function selectorText(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value) ?? "");
}

function checkArtifacts(context: Context): Issue[] {
  const issues: Issue[] = [];
  const artifacts = record(own(context.manifest, "artifacts"));
  const names = new Map<string, string>();
  const selectors = new Map<string, string>();
  let hasCpuVariant = false;
  let hasGpuVariant = false;
  for (const [key, raw] of Object.entries(artifacts)) {
    const variant = record(raw);
    const base = ["artifacts", key];
    if (variant.digest_required === false) {
      issues.push(
        createIssue(
          toPointer([...base, "digest_required"]),
          "profile.artifact.digest_not_required",
          "artifacts deploy by digest only; set digest_required: true",
        ),
      );
    }
    const digest = text(variant.digest);
    if (digest !== undefined && !DIGEST.test(digest)) {
      issues.push(
        createIssue(
          toPointer([...base, "digest"]),
          "profile.artifact.digest_invalid",
          `"${digest}" is not sha256:<64 lowercase hex digits>`,
        ),
      );
    }
    const name = text(variant.artifact_name);
    if (name !== undefined) {
      issues.push(...checkArtifactName(name, [...base, "artifact_name"]));
      const other = names.get(name);
      if (other !== undefined) {
        issues.push(
          createIssue(
            toPointer([...base, "artifact_name"]),
            "profile.artifact.duplicate_name",
            `"${name}" is also the artifact_name of "${other}"`,
          ),
        );
      }
      names.set(name, key);
    }
    const accelerator = record(variant.accelerator);
    const vendor = text(accelerator.vendor) ?? "none";
    if (vendor === "none") hasCpuVariant = true;
    else hasGpuVariant = true;
    const selectorKey = JSON.stringify([
      vendor,
      text(accelerator.family) ?? "",
      [...list(accelerator.skus)].map(selectorText).sort(),
      [...list(variant.cpu_architectures)].map(selectorText).sort(),
    ]);
    const twin = selectors.get(selectorKey);
    if (twin !== undefined) {
      issues.push(
        createIssue(
          toPointer(base),
          "profile.artifact.ambiguous_selector",
          `"${key}" and "${twin}" select exactly the same allocations; give them different accelerator or cpu_architectures selectors`,
        ),
      );
    }
    selectors.set(selectorKey, key);
  }
  if (Object.keys(artifacts).length === 0) return issues;
  const gpu = record(own(record(own(context.manifest, "resources")), "gpu"));
  const minGpus = integer(gpu.min_count) ?? 0;
  if (minGpus > 0 && !hasGpuVariant) {
    issues.push(
      createIssue(
        "/artifacts",
        "profile.artifact.no_gpu_variant",
        `resources.gpu.min_count is ${minGpus} but no artifact variant targets a GPU vendor`,
      ),
    );
  }
  if (minGpus === 0 && !hasCpuVariant && context.declared.has("gpu_count")) {
    issues.push(
      createIssue(
        "/artifacts",
        "profile.artifact.no_cpu_variant",
        "gpu_count may be 0 but every artifact variant targets a GPU; add a variant with accelerator.vendor: none",
      ),
    );
  }
  return issues;
}

function checkArtifactName(name: string, path: readonly string[]): Issue[] {
  const pointer = toPointer(path);
  const first = name.split("/")[0] ?? "";
  if (
    name.includes("@") ||
    name.includes(":") ||
    (name.includes("/") && (first.includes(".") || first === "localhost"))
  ) {
    return [
      createIssue(
        pointer,
        "profile.artifact.tag_reference",
        `"${name}" must be a bare repository name: the registry comes from platform configuration and the digest from the verified artifact record`,
      ),
    ];
  }
  if (!REPOSITORY_NAME.test(name)) {
    return [
      createIssue(
        pointer,
        "profile.artifact.name_invalid",
        `"${name}" is not an OCI repository name (lowercase letters, digits, separators . _ - and / between components)`,
      ),
    ];
  }
  return [];
}

interface Bounds {
  readonly parameter: string;
  readonly section: string;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly minKey: string;
  readonly maxKey: string;
}

function checkResources(context: Context): Issue[] {
  const issues: Issue[] = [];
  const resources = record(own(context.manifest, "resources"));
  const gpu = record(resources.gpu);
  const cpu = record(resources.cpu);
  const memory = record(resources.memory);
  const bounds: Bounds[] = [
    {
      parameter: "gpu_count",
      section: "gpu",
      min: integer(gpu.min_count),
      max: integer(gpu.max_count),
      minKey: "min_count",
      maxKey: "max_count",
    },
    {
      parameter: "cpu_cores",
      section: "cpu",
      min: integer(cpu.min_cores),
      max: integer(cpu.max_cores),
      minKey: "min_cores",
      maxKey: "max_cores",
    },
    {
      parameter: "memory_gib",
      section: "memory",
      min: integer(memory.min_gib),
      max: integer(memory.max_gib),
      minKey: "min_gib",
      maxKey: "max_gib",
    },
  ];
  for (const bound of bounds) {
    if (bound.min !== undefined && bound.max !== undefined && bound.min > bound.max) {
      issues.push(
        createIssue(
          toPointer(["resources", bound.section, bound.maxKey]),
          "profile.resources.inconsistent",
          `${bound.maxKey} ${bound.max} is below ${bound.minKey} ${bound.min}`,
        ),
      );
    }
    const property = record(own(context.properties, bound.parameter));
    const base = [...PARAMETERS_PATH, bound.parameter];
    const fallback = integer(property.default);
    if (fallback !== undefined && bound.min !== undefined && fallback < bound.min) {
      issues.push(
        createIssue(
          toPointer([...base, "default"]),
          "profile.resources.default_below_minimum",
          `default ${bound.parameter} ${fallback} is below resources.${bound.section}.${bound.minKey} ${bound.min}`,
        ),
      );
    }
    if (fallback !== undefined && bound.max !== undefined && fallback > bound.max) {
      issues.push(
        createIssue(
          toPointer([...base, "default"]),
          "profile.resources.default_above_maximum",
          `default ${bound.parameter} ${fallback} is above resources.${bound.section}.${bound.maxKey} ${bound.max}`,
        ),
      );
    }
    const parameterMax = typeof property.maximum === "number" ? property.maximum : undefined;
    if (parameterMax !== undefined && bound.min !== undefined && parameterMax < bound.min) {
      issues.push(
        createIssue(
          toPointer([...base, "maximum"]),
          "profile.resources.inconsistent",
          `no value of ${bound.parameter} can satisfy both maximum ${parameterMax} and resources.${bound.section}.${bound.minKey} ${bound.min}`,
        ),
      );
    }
    const parameterMin = typeof property.minimum === "number" ? property.minimum : undefined;
    if (parameterMin !== undefined && bound.max !== undefined && parameterMin > bound.max) {
      issues.push(
        createIssue(
          toPointer([...base, "minimum"]),
          "profile.resources.inconsistent",
          `no value of ${bound.parameter} can satisfy both minimum ${parameterMin} and resources.${bound.section}.${bound.maxKey} ${bound.max}`,
        ),
      );
    }
  }
  const gpuDefault = integer(gpu.default_count);
  if (gpuDefault !== undefined) {
    const min = integer(gpu.min_count);
    const max = integer(gpu.max_count);
    if ((min !== undefined && gpuDefault < min) || (max !== undefined && gpuDefault > max)) {
      issues.push(
        createIssue(
          "/resources/gpu/default_count",
          "profile.resources.inconsistent",
          `default_count ${gpuDefault} is outside min_count..max_count`,
        ),
      );
    }
    const parameter = record(own(context.properties, "gpu_count"));
    const parameterDefault = integer(parameter.default);
    if (parameterDefault !== undefined && parameterDefault !== gpuDefault) {
      issues.push(
        createIssue(
          "/resources/gpu/default_count",
          "profile.resources.inconsistent",
          `default_count ${gpuDefault} differs from the gpu_count parameter default ${parameterDefault}`,
        ),
      );
    } else if (
      (typeof parameter.minimum === "number" && gpuDefault < parameter.minimum) ||
      (typeof parameter.maximum === "number" && gpuDefault > parameter.maximum)
    ) {
      // Without a parameter default, default_count is what a launch gets, so it must be a value
      // the gpu_count parameter accepts.
      issues.push(
        createIssue(
          "/resources/gpu/default_count",
          "profile.resources.inconsistent",
          `default_count ${gpuDefault} is outside the gpu_count parameter's minimum..maximum`,
        ),
      );
    }
  }
  return issues;
}

function isNormalizedAbsolutePath(path: string): boolean {
  if (!path.startsWith("/") || path === "/") return false;
  if (path.endsWith("/") || path.includes("//") || path.includes("\u0000")) return false;
  return !path.split("/").some((segment) => segment === "." || segment === "..");
}

function checkStorage(context: Context): Issue[] {
  const issues: Issue[] = [];
  const mounts = list(own(record(own(context.manifest, "storage")), "mounts"));
  const names = new Set<string>();
  const paths = new Set<string>();
  mounts.forEach((rawMount, index) => {
    const mount = record(rawMount);
    const base = ["storage", "mounts", index];
    const name = text(mount.name);
    const path = text(mount.path);
    if (name !== undefined) {
      if (names.has(name))
        issues.push(
          createIssue(
            toPointer([...base, "name"]),
            "profile.storage.duplicate_mount",
            `mount name "${name}" is used twice`,
          ),
        );
      names.add(name);
    }
    if (path !== undefined) {
      if (path.startsWith("/") && !isNormalizedAbsolutePath(path)) {
        issues.push(
          createIssue(
            toPointer([...base, "path"]),
            "profile.storage.path_invalid",
            `"${path}" must be absolute and normalized (no ., .., // or trailing /) and not /`,
          ),
        );
      }
      if (paths.has(path))
        issues.push(
          createIssue(
            toPointer([...base, "path"]),
            "profile.storage.duplicate_mount",
            `path "${path}" is mounted twice`,
          ),
        );
      paths.add(path);
    }
    if (name === undefined) return;
    const parameterName = `${name}${MOUNT_MODE_PARAMETER_SUFFIX}`;
    const property = own(context.properties, parameterName);
    if (!isRecord(property)) return;
    const modes = list(mount.modes);
    const parameterPath = [...PARAMETERS_PATH, parameterName];
    list(property.enum).forEach((mode, modeIndex) => {
      if (!modes.includes(mode)) {
        issues.push(
          createIssue(
            toPointer([...parameterPath, "enum", modeIndex]),
            "profile.storage.mode_mismatch",
            `"${parameterName}" offers ${JSON.stringify(mode)} but mount "${name}" allows only ${modes.map((m) => JSON.stringify(m)).join(", ")}`,
          ),
        );
      }
    });
    if (Object.hasOwn(property, "default") && !modes.includes(property.default)) {
      issues.push(
        createIssue(
          toPointer([...parameterPath, "default"]),
          "profile.storage.mode_mismatch",
          `default ${JSON.stringify(property.default)} of "${parameterName}" is not a mode of mount "${name}"`,
        ),
      );
    }
  });
  return issues;
}

function checkEndpoints(context: Context): Issue[] {
  const issues: Issue[] = [];
  const names = new Set<string>();
  const ports = new Set<number>();
  let anyManagedIngress = false;
  context.endpoints.forEach((rawEndpoint, index) => {
    // The schema reports an endpoint that is not an object; its keys cannot be missing.
    if (!isRecord(rawEndpoint)) return;
    const endpoint = rawEndpoint;
    const base = ["network", "endpoints", index];
    const name = text(endpoint.name);
    if (name !== undefined) {
      if (names.has(name))
        issues.push(
          createIssue(
            toPointer([...base, "name"]),
            "profile.endpoint.duplicate_name",
            `endpoint name "${name}" is used twice`,
          ),
        );
      names.add(name);
    }
    const port = integer(endpoint.port);
    if (port !== undefined) {
      if (ports.has(port))
        issues.push(
          createIssue(
            toPointer([...base, "port"]),
            "profile.endpoint.duplicate_port",
            `container port ${port} is used by two endpoints`,
          ),
        );
      ports.add(port);
    }
    issues.push(...checkEndpointShape(endpoint, base));
    const ingress = record(endpoint.managed_ingress);
    const legacyProxied = list(endpoint.exposure_modes).includes("platform_proxy");
    const managed =
      ingress.enabled === true || (!Object.hasOwn(ingress, "enabled") && legacyProxied);
    if (managed) anyManagedIngress = true;
    const websocket =
      ingress.websocket_required === true || record(endpoint.proxy).websocket_required === true;
    if (websocket && !managed) {
      issues.push(
        createIssue(
          toPointer([...base, "managed_ingress"]),
          "profile.endpoint.websocket_without_ingress",
          "websocket_required only matters for managed ingress, which is not enabled on this endpoint",
        ),
      );
    }
  });
  const exposure = record(own(context.properties, EXPOSURE_MODE_PARAMETER));
  list(exposure.enum).forEach((mode, index) => {
    if (mode === "managed_ingress" && !anyManagedIngress) {
      issues.push(
        createIssue(
          toPointer([...PARAMETERS_PATH, EXPOSURE_MODE_PARAMETER, "enum", index]),
          "profile.endpoint.exposure_unsupported",
          "exposure_mode offers managed_ingress but no endpoint enables managed_ingress",
        ),
      );
    }
  });
  return issues;
}

function checkEndpointShape(endpoint: Loose, base: readonly (string | number)[]): Issue[] {
  const issues: Issue[] = [];
  const hasType = Object.hasOwn(endpoint, "type");
  const protocol = text(endpoint.protocol);
  const ingress = isRecord(endpoint.managed_ingress) ? endpoint.managed_ingress : undefined;
  const proxy = isRecord(endpoint.proxy) ? endpoint.proxy : undefined;
  const exposureModes = Object.hasOwn(endpoint, "exposure_modes")
    ? list(endpoint.exposure_modes)
    : undefined;
  if (!hasType && protocol === undefined) {
    issues.push(
      createIssue(
        toPointer([...base, "type"]),
        "profile.endpoint.missing_type",
        'declare the endpoint "type" (http, tcp, ssh, kubernetes, mcp, job_submission)',
      ),
    );
  }
  if (hasType && !Object.hasOwn(endpoint, "auth_pattern")) {
    issues.push(
      createIssue(
        toPointer([...base, "auth_pattern"]),
        "profile.endpoint.missing_auth_pattern",
        "declare auth_pattern (oidc_native, header_injected_jwt, per_connection_credential, mtls_user_cert, per_user_instance)",
      ),
    );
  }
  const legacyFields = ["protocol", "exposure_modes", "proxy"].filter((key) =>
    Object.hasOwn(endpoint, key),
  );
  if (legacyFields.length > 0) {
    issues.push(
      createIssue(
        toPointer(base),
        "profile.endpoint.legacy_fields",
        `legacy field(s) ${legacyFields.join(", ")} are normalized to type/auth_pattern/managed_ingress; run "gpuaas profiles normalize" to migrate${
          proxy !== undefined && Object.hasOwn(proxy, "auth_bridge")
            ? " (proxy.auth_bridge is dropped: declare auth_pattern instead)"
            : ""
        }`,
      ),
    );
  }
  if (hasType && protocol !== undefined && endpoint.type !== protocol) {
    issues.push(
      createIssue(
        toPointer([...base, "protocol"]),
        "profile.endpoint.legacy_conflict",
        `protocol "${protocol}" contradicts type ${JSON.stringify(endpoint.type)}`,
      ),
    );
  }
  if (
    ingress !== undefined &&
    exposureModes !== undefined &&
    typeof ingress.enabled === "boolean"
  ) {
    const proxied = exposureModes.includes("platform_proxy");
    if (proxied !== ingress.enabled) {
      issues.push(
        createIssue(
          toPointer([...base, "exposure_modes"]),
          "profile.endpoint.legacy_conflict",
          `exposure_modes ${JSON.stringify(exposureModes)} contradicts managed_ingress.enabled ${String(ingress.enabled)}`,
        ),
      );
    }
    if (proxied && ingress.route_mode === "host") {
      issues.push(
        createIssue(
          toPointer([...base, "managed_ingress", "route_mode"]),
          "profile.endpoint.legacy_conflict",
          "exposure_modes [platform_proxy] means route_mode platform_path_compat, but route_mode says host",
        ),
      );
    }
  }
  if (ingress !== undefined && proxy !== undefined) {
    for (const key of ["default_open_path", "websocket_required"]) {
      if (Object.hasOwn(proxy, key) && Object.hasOwn(ingress, key) && proxy[key] !== ingress[key]) {
        issues.push(
          createIssue(
            toPointer([...base, "proxy", key]),
            "profile.endpoint.legacy_conflict",
            `proxy.${key} ${JSON.stringify(proxy[key])} contradicts managed_ingress.${key} ${JSON.stringify(ingress[key])}`,
          ),
        );
      }
    }
  }
  if (ingress !== undefined) {
    const family = text(ingress.route_family);
    const clientAuth = text(ingress.client_auth_mode);
    if (family !== undefined && (RESERVED_ROUTE_FAMILIES as readonly string[]).includes(family)) {
      issues.push(
        createIssue(
          toPointer([...base, "managed_ingress", "route_family"]),
          "profile.endpoint.reserved_route_family",
          `route_family "${family}" is reserved for platform-owned routes; use browser_app or api_app`,
        ),
      );
    } else if (
      (family === "browser_app" && clientAuth === "api_bearer") ||
      (family === "api_app" && clientAuth === "browser_oidc")
    ) {
      issues.push(
        createIssue(
          toPointer([...base, "managed_ingress", "route_family"]),
          "profile.endpoint.route_family_mismatch",
          `route_family "${family}" does not fit client_auth_mode "${clientAuth}" (browser_oidc → browser_app, api_bearer → api_app)`,
        ),
      );
    }
  }
  return issues;
}

function checkExecution(context: Context): Issue[] {
  const issues: Issue[] = [];
  const execution = record(own(context.manifest, "execution"));
  const engines = list(execution.supported_engines);
  const seen = new Map<string, Loose>();
  engines.forEach((raw, index) => {
    const entry = record(raw);
    const engine = text(entry.engine);
    if (engine === undefined) return;
    if (seen.has(engine)) {
      issues.push(
        createIssue(
          toPointer(["execution", "supported_engines", index, "engine"]),
          "profile.execution.duplicate_engine",
          `"${engine}" is listed twice`,
        ),
      );
    }
    seen.set(engine, entry);
  });
  const defaultEngine = text(execution.default_engine);
  if (
    defaultEngine !== undefined &&
    engines.length > 0 &&
    seen.get(defaultEngine)?.status !== "active"
  ) {
    issues.push(
      createIssue(
        "/execution/default_engine",
        "profile.execution.default_engine_inactive",
        `default engine "${defaultEngine}" must be listed in supported_engines with status active`,
      ),
    );
  }
  const compose = record(execution.compose);
  const usesCompose =
    defaultEngine === "docker_compose" || seen.get("docker_compose")?.status === "active";
  // A compose block without a renderer is already refused by the schema (required key), so this
  // reports the case the schema cannot see: a compose engine with no compose block at all.
  if (usesCompose && !Object.hasOwn(execution, "compose")) {
    issues.push(
      createIssue(
        "/execution/compose",
        "profile.execution.compose_renderer_missing",
        "a docker_compose profile names its platform-owned renderer: add execution.compose.renderer (and a topology of its services)",
      ),
    );
  }
  const serviceNames = new Set<string>();
  list(record(compose.topology).services).forEach((rawService, serviceIndex) => {
    const service = record(rawService);
    const base = ["execution", "compose", "topology", "services", serviceIndex];
    const name = text(service.name);
    if (name !== undefined) {
      if (serviceNames.has(name)) {
        issues.push(
          createIssue(
            toPointer([...base, "name"]),
            "profile.execution.compose_duplicate_service",
            `service "${name}" is declared twice`,
          ),
        );
      }
      serviceNames.add(name);
    }
    list(service.endpoints).forEach((endpoint, index) => {
      if (typeof endpoint === "string" && !context.endpointNames.has(endpoint)) {
        issues.push(
          createIssue(
            toPointer([...base, "endpoints", index]),
            "profile.endpoint.unknown_reference",
            `service endpoint "${endpoint}" is not declared in network.endpoints`,
          ),
        );
      }
    });
    list(service.mounts).forEach((mount, index) => {
      if (typeof mount === "string" && !context.mountNames.has(mount)) {
        issues.push(
          createIssue(
            toPointer([...base, "mounts", index]),
            "profile.execution.compose_unknown_mount",
            `service mount "${mount}" is not declared in storage.mounts`,
          ),
        );
      }
    });
  });
  for (const key of Object.keys(record(execution.container_env))) {
    if (key.toUpperCase().startsWith("GPUAAS_")) {
      issues.push(
        createIssue(
          toPointer(["execution", "container_env", key]),
          "profile.execution.env_reserved",
          `${key}: variables starting with GPUAAS_ are set by the platform`,
        ),
      );
    }
  }
  issues.push(...checkPlaceholders(context, execution));
  return issues;
}

/** `${name}` in command_args and container_env values must name a declared parameter. */
function checkPlaceholders(context: Context, execution: Loose): Issue[] {
  const issues: Issue[] = [];
  const places: [readonly (string | number)[], unknown][] = [
    ...list(execution.command_args).map((arg, index): [readonly (string | number)[], unknown] => [
      ["execution", "command_args", index],
      arg,
    ]),
    ...Object.entries(record(execution.container_env)).map(
      ([key, value]): [readonly (string | number)[], unknown] => [
        ["execution", "container_env", key],
        value,
      ],
    ),
  ];
  for (const [path, value] of places) {
    if (typeof value !== "string") continue;
    const { names, malformed } = findPlaceholders(value);
    for (const name of malformed) {
      issues.push(
        createIssue(
          toPointer(path),
          "profile.execution.unknown_placeholder",
          `\${${name}} is not a placeholder: name a parameter in lowercase letters, digits and underscores, or write $\${ for a literal \${`,
        ),
      );
    }
    for (const name of names) {
      if (!context.declared.has(name)) {
        issues.push(
          createIssue(
            toPointer(path),
            "profile.execution.unknown_placeholder",
            `\${${name}} names no declared parameter; declare "${name}" in parameters.schema.properties`,
          ),
        );
      }
    }
  }
  return issues;
}

function checkOutputsAndValidation(context: Context): Issue[] {
  const issues: Issue[] = [];
  const outputs = record(own(context.manifest, "outputs"));
  const validation = record(own(context.manifest, "validation"));
  const unique = (
    items: readonly unknown[],
    path: readonly string[],
    code: "profile.outputs.duplicate_name" | "profile.validation.duplicate_name",
  ) => {
    const names = new Set<string>();
    items.forEach((raw, index) => {
      const name = text(record(raw).name);
      if (name === undefined) return;
      if (names.has(name))
        issues.push(
          createIssue(toPointer([...path, index, "name"]), code, `"${name}" is used twice`),
        );
      names.add(name);
    });
  };
  const outputEndpoints = list(outputs.endpoints);
  unique(outputEndpoints, ["outputs", "endpoints"], "profile.outputs.duplicate_name");
  unique(list(outputs.commands), ["outputs", "commands"], "profile.outputs.duplicate_name");
  outputEndpoints.forEach((raw, index) => {
    const source = text(record(raw).source);
    const target = source?.startsWith("network.endpoints.")
      ? source.slice("network.endpoints.".length)
      : undefined;
    if (target !== undefined && !context.endpointNames.has(target)) {
      issues.push(
        createIssue(
          toPointer(["outputs", "endpoints", index, "source"]),
          "profile.endpoint.unknown_reference",
          `"${source}" does not name a declared endpoint`,
        ),
      );
    }
  });
  const readiness = list(validation.readiness);
  const smoke = list(validation.smoke);
  unique(readiness, ["validation", "readiness"], "profile.validation.duplicate_name");
  unique(smoke, ["validation", "smoke"], "profile.validation.duplicate_name");
  for (const [section, items] of [
    ["readiness", readiness],
    ["smoke", smoke],
  ] as const) {
    items.forEach((raw, index) => {
      const endpoint = text(record(raw).endpoint);
      if (endpoint !== undefined && !context.endpointNames.has(endpoint)) {
        issues.push(
          createIssue(
            toPointer(["validation", section, index, "endpoint"]),
            "profile.endpoint.unknown_reference",
            `endpoint "${endpoint}" is not declared in network.endpoints`,
          ),
        );
      }
    });
  }
  if (readiness.length === 0 && context.endpoints.length > 0) {
    issues.push(
      createIssue(
        isRecord(own(context.manifest, "validation")) ? "/validation/readiness" : "/validation",
        "profile.validation.no_readiness",
        "declare a readiness probe so the platform knows when the workload is usable",
      ),
    );
  }
  return issues;
}

function checkSecurity(context: Context): Issue[] {
  const issues: Issue[] = [];
  const security = record(own(context.manifest, "security"));
  const hostMounts = list(security.host_mounts);
  const curated = record(own(context.manifest, "profile")).support_level === "platform_curated";
  const approved = isRecord(security.approval);
  const elevated: [string, boolean][] = [
    ["privileged", security.privileged === true],
    ["host_mounts", hostMounts.length > 0],
  ];
  for (const [key, requested] of elevated) {
    if (requested && !(curated && approved)) {
      issues.push(
        createIssue(
          toPointer(["security", key]),
          "profile.security.elevated_not_approved",
          `${key} is allowed only for platform_curated profiles with a recorded security.approval`,
        ),
      );
    }
  }
  hostMounts.forEach((raw, index) => {
    const hostPath = text(record(raw).host_path);
    if (hostPath?.startsWith("/") && !isNormalizedAbsolutePath(hostPath)) {
      issues.push(
        createIssue(
          toPointer(["security", "host_mounts", index, "host_path"]),
          "profile.security.host_path_invalid",
          `"${hostPath}" must be absolute and normalized`,
        ),
      );
    }
  });
  return issues;
}
