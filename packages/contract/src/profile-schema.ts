import {
  ACCELERATOR_VENDORS,
  ADAPTER_STATUSES,
  ARTIFACT_SOURCES,
  AUTH_PATTERNS,
  CLIENT_AUTH_MODES,
  CPU_ARCHITECTURES,
  ENDPOINT_TYPES,
  ENGINES,
  GPU_PLACEMENTS,
  INSTANCE_STATES,
  LAUNCH_MODES,
  LEGACY_EXPOSURE_MODES,
  LEGACY_PROTOCOLS,
  MEDIA_TYPES,
  PROFILE_KIND,
  READINESS_TYPES,
  ROUTE_FAMILIES,
  ROUTE_MODES,
  SCHEMA_VERSIONS,
  SMOKE_TYPES,
  STORAGE_MODES,
  SUPPORT_LEVELS,
  WIZARD_COMPONENT_KINDS,
} from "./types.js";

/** The `$id` of the canonical profile schema. */
export const PROFILE_SCHEMA_ID =
  "https://gpuaas.dev/schemas/launchable_oci_workload_profile.v1.schema.json";

// Reused fragments. `x-message` is an annotation the validator uses as the human sentence when a
// `pattern` does not match, because "must match pattern ^[a-z]…$" helps nobody.
const identifier = {
  type: "string",
  pattern: "^[a-z][a-z0-9_]{0,62}$",
  "x-message": "use lowercase letters, digits and underscores, starting with a letter (at most 63)",
} as const;
const slug = {
  type: "string",
  pattern: "^[a-z][a-z0-9-]{0,61}[a-z0-9]$",
  "x-message": "use lowercase letters, digits and hyphens, starting with a letter (2 to 63)",
} as const;
const shortText = { type: "string", minLength: 1, maxLength: 200 } as const;
const longText = { type: "string", minLength: 1, maxLength: 4000 } as const;
const absolutePath = {
  type: "string",
  minLength: 1,
  maxLength: 1024,
  pattern: "^/",
  "x-message": "use an absolute path starting with /",
} as const;
const urlPath = {
  type: "string",
  maxLength: 2048,
  pattern: "^/[^\\s?#]*$",
  "x-message": "use a URL path starting with / (no query, fragment or spaces)",
} as const;
const port = { type: "integer", minimum: 1, maximum: 65535 } as const;
const count = { type: "integer", minimum: 0, maximum: 1_000_000 } as const;
const identifierList = {
  type: "array",
  maxItems: 128,
  uniqueItems: true,
  items: identifier,
} as const;
const enumOf = <T extends readonly string[]>(values: T) =>
  ({ type: "string", enum: values }) as const;

const parameterProperty = {
  type: "object",
  additionalProperties: false,
  required: ["type"],
  properties: {
    type: enumOf(["string", "integer", "number", "boolean", "array"] as const),
    title: shortText,
    description: longText,
    enum: {
      type: "array",
      minItems: 1,
      maxItems: 256,
      uniqueItems: true,
      items: { type: ["string", "number"] },
    },
    default: {},
    minimum: { type: "number" },
    maximum: { type: "number" },
    minLength: count,
    maxLength: count,
    pattern: { type: "string", minLength: 1, maxLength: 512 },
    examples: { type: "array", maxItems: 16 },
    items: {
      type: "object",
      additionalProperties: false,
      required: ["type"],
      properties: {
        type: enumOf(["string", "integer", "number"] as const),
        enum: {
          type: "array",
          minItems: 1,
          maxItems: 256,
          uniqueItems: true,
          items: { type: ["string", "number"] },
        },
      },
    },
    minItems: count,
    maxItems: count,
    uniqueItems: { type: "boolean" },
  },
} as const;

const artifactVariant = {
  type: "object",
  additionalProperties: false,
  required: ["source", "artifact_name", "digest_required", "media_type"],
  properties: {
    source: enumOf(ARTIFACT_SOURCES),
    artifact_name: { type: "string", minLength: 1, maxLength: 255 },
    digest_required: { type: "boolean" },
    media_type: enumOf(MEDIA_TYPES),
    digest: { type: "string", maxLength: 100 },
    accelerator: {
      type: "object",
      additionalProperties: false,
      required: ["vendor"],
      properties: {
        vendor: enumOf(ACCELERATOR_VENDORS),
        family: identifier,
        skus: { type: "array", minItems: 1, maxItems: 64, uniqueItems: true, items: identifier },
      },
    },
    cpu_architectures: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      items: enumOf(CPU_ARCHITECTURES),
    },
  },
} as const;

const wizardComponent = {
  type: "object",
  additionalProperties: false,
  required: ["kind"],
  properties: {
    kind: enumOf(WIZARD_COMPONENT_KINDS),
    name: identifier,
    required: { type: "boolean" },
  },
} as const;

const managedIngress = {
  type: "object",
  additionalProperties: false,
  required: ["enabled"],
  properties: {
    enabled: { type: "boolean" },
    route_mode: enumOf(ROUTE_MODES),
    default_open_path: urlPath,
    websocket_required: { type: "boolean" },
    client_auth_mode: enumOf(CLIENT_AUTH_MODES),
    route_family: enumOf(ROUTE_FAMILIES),
    request_timeout_seconds: { type: "integer", minimum: 1, maximum: 86_400 },
    idle_timeout_seconds: { type: "integer", minimum: 1, maximum: 86_400 },
  },
} as const;

const endpoint = {
  type: "object",
  additionalProperties: false,
  required: ["name", "port"],
  properties: {
    name: identifier,
    port,
    type: enumOf(ENDPOINT_TYPES),
    auth_pattern: enumOf(AUTH_PATTERNS),
    managed_ingress: managedIngress,
    // Legacy v1 fields, accepted during the migration window and normalized to the fields above.
    protocol: enumOf(LEGACY_PROTOCOLS),
    exposure_modes: {
      type: "array",
      minItems: 1,
      uniqueItems: true,
      items: enumOf(LEGACY_EXPOSURE_MODES),
    },
    proxy: {
      type: "object",
      additionalProperties: false,
      properties: {
        default_open_path: urlPath,
        websocket_required: { type: "boolean" },
        auth_bridge: { type: "string", maxLength: 200 },
      },
    },
  },
} as const;

const readinessProbe = {
  type: "object",
  additionalProperties: false,
  required: ["name", "type", "endpoint"],
  properties: {
    name: identifier,
    type: enumOf(READINESS_TYPES),
    endpoint: identifier,
    path: urlPath,
    expect_status: {
      type: "array",
      minItems: 1,
      maxItems: 16,
      uniqueItems: true,
      items: { type: "integer", minimum: 100, maximum: 599 },
    },
    timeout_seconds: { type: "integer", minimum: 1, maximum: 3600 },
    interval_seconds: { type: "integer", minimum: 1, maximum: 600 },
  },
} as const;

const smokeCheck = {
  type: "object",
  additionalProperties: false,
  required: ["name", "type"],
  properties: {
    name: identifier,
    type: enumOf(SMOKE_TYPES),
    status: enumOf(INSTANCE_STATES),
    endpoint: identifier,
    path: urlPath,
  },
} as const;

/**
 * The canonical JSON Schema (2020-12) of a launchable OCI workload profile manifest, v1.
 *
 * It accepts both the v1.1 endpoint fields and the legacy ones; semantic rules that a schema
 * cannot express (references between sections, defaults against minimums, reserved values) are
 * checked by {@link validateProfile}. `schemas/launchable_oci_workload_profile.v1.schema.json` is
 * generated from this object by `npm run gen`, and a test keeps the two identical.
 */
export const PROFILE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: PROFILE_SCHEMA_ID,
  title: "Launchable OCI workload profile v1",
  description:
    "A typed manifest for a digest-pinned OCI workload that users launch on an allocation they hold: images per accelerator, user parameters and the launch wizard, resources, storage, endpoints with managed ingress, execution engine, outputs and checks.",
  type: "object",
  additionalProperties: false,
  required: ["profile", "artifacts", "parameters", "resources", "network", "execution"],
  properties: {
    profile: {
      type: "object",
      additionalProperties: false,
      required: [
        "kind",
        "schema_version",
        "slug",
        "display_name",
        "description",
        "support_level",
        "launch_mode",
      ],
      properties: {
        kind: { const: PROFILE_KIND },
        schema_version: enumOf(SCHEMA_VERSIONS),
        slug,
        display_name: shortText,
        description: longText,
        support_level: enumOf(SUPPORT_LEVELS),
        launch_mode: enumOf(LAUNCH_MODES),
      },
    },
    artifacts: {
      type: "object",
      minProperties: 1,
      maxProperties: 32,
      propertyNames: identifier,
      additionalProperties: artifactVariant,
    },
    parameters: {
      type: "object",
      additionalProperties: false,
      required: ["schema", "ui"],
      properties: {
        schema: {
          type: "object",
          additionalProperties: false,
          required: ["type", "properties"],
          properties: {
            type: { const: "object" },
            required: identifierList,
            properties: {
              type: "object",
              maxProperties: 128,
              propertyNames: identifier,
              additionalProperties: parameterProperty,
            },
          },
        },
        ui: {
          type: "object",
          additionalProperties: false,
          required: ["launch_wizard"],
          properties: {
            order: { type: "array", maxItems: 128, items: identifier },
            groups: {
              type: "array",
              maxItems: 64,
              items: {
                type: "object",
                additionalProperties: false,
                required: ["id", "title", "fields"],
                properties: {
                  id: identifier,
                  title: shortText,
                  fields: { type: "array", maxItems: 128, items: identifier },
                },
              },
            },
            launch_wizard: {
              type: "object",
              additionalProperties: false,
              required: ["steps"],
              properties: {
                steps: {
                  type: "array",
                  minItems: 1,
                  maxItems: 32,
                  items: {
                    type: "object",
                    additionalProperties: false,
                    required: ["id", "title", "components"],
                    properties: {
                      id: identifier,
                      title: shortText,
                      description: longText,
                      components: {
                        type: "array",
                        minItems: 1,
                        maxItems: 64,
                        items: wizardComponent,
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    resources: {
      type: "object",
      additionalProperties: false,
      required: ["gpu", "cpu", "memory"],
      properties: {
        gpu: {
          type: "object",
          additionalProperties: false,
          required: ["min_count", "placement"],
          properties: {
            min_count: { type: "integer", minimum: 0, maximum: 64 },
            default_count: { type: "integer", minimum: 0, maximum: 64 },
            max_count: { type: "integer", minimum: 0, maximum: 64 },
            placement: enumOf(GPU_PLACEMENTS),
          },
        },
        cpu: {
          type: "object",
          additionalProperties: false,
          required: ["min_cores"],
          properties: {
            min_cores: { type: "integer", minimum: 1, maximum: 1024 },
            max_cores: { type: "integer", minimum: 1, maximum: 1024 },
          },
        },
        memory: {
          type: "object",
          additionalProperties: false,
          required: ["min_gib"],
          properties: {
            min_gib: { type: "integer", minimum: 1, maximum: 65_536 },
            max_gib: { type: "integer", minimum: 1, maximum: 65_536 },
          },
        },
      },
    },
    storage: {
      type: "object",
      additionalProperties: false,
      required: ["mounts"],
      properties: {
        mounts: {
          type: "array",
          maxItems: 16,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["name", "path", "modes"],
            properties: {
              name: identifier,
              path: absolutePath,
              required: { type: "boolean" },
              modes: {
                type: "array",
                minItems: 1,
                uniqueItems: true,
                items: enumOf(STORAGE_MODES),
              },
            },
          },
        },
      },
    },
    network: {
      type: "object",
      additionalProperties: false,
      required: ["endpoints"],
      properties: {
        endpoints: { type: "array", maxItems: 16, items: endpoint },
      },
    },
    execution: {
      type: "object",
      additionalProperties: false,
      required: ["default_engine", "supported_engines"],
      properties: {
        default_engine: enumOf(ENGINES),
        supported_engines: {
          type: "array",
          minItems: 1,
          maxItems: 8,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["engine", "adapter", "status"],
            properties: {
              engine: enumOf(ENGINES),
              adapter: identifier,
              status: enumOf(ADAPTER_STATUSES),
            },
          },
        },
        container_env: {
          type: "object",
          maxProperties: 128,
          propertyNames: {
            type: "string",
            pattern: "^[A-Za-z_][A-Za-z0-9_]{0,127}$",
            "x-message": "use letters, digits and underscores, not starting with a digit",
          },
          additionalProperties: { type: "string", maxLength: 4096 },
        },
        command_args: {
          type: "array",
          minItems: 1,
          maxItems: 64,
          items: {
            type: "string",
            minLength: 1,
            maxLength: 4096,
            pattern: "^[^\\u0000]*$",
            "x-message": "an argument may not contain a NUL character",
          },
        },
        working_dir: absolutePath,
        user: {
          type: "string",
          pattern: "^[a-z_][a-z0-9_-]{0,31}$|^[0-9]{1,10}(:[0-9]{1,10})?$",
          "x-message": "use a user name or uid[:gid]",
        },
        compose: {
          type: "object",
          additionalProperties: false,
          required: ["renderer"],
          properties: {
            renderer: identifier,
            topology: {
              type: "object",
              additionalProperties: false,
              required: ["services"],
              properties: {
                description: longText,
                services: {
                  type: "array",
                  minItems: 1,
                  maxItems: 16,
                  items: {
                    type: "object",
                    additionalProperties: false,
                    required: ["name", "role"],
                    properties: {
                      name: identifier,
                      role: identifier,
                      endpoints: identifierList,
                      mounts: identifierList,
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    outputs: {
      type: "object",
      additionalProperties: false,
      properties: {
        endpoints: {
          type: "array",
          maxItems: 16,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["name", "source"],
            properties: {
              name: identifier,
              source: {
                type: "string",
                pattern: "^network\\.endpoints\\.[a-z][a-z0-9_]{0,62}$",
                "x-message": "use network.endpoints.<endpoint name>",
              },
            },
          },
        },
        commands: {
          type: "array",
          maxItems: 16,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["name", "command"],
            properties: { name: identifier, command: shortText },
          },
        },
      },
    },
    validation: {
      type: "object",
      additionalProperties: false,
      properties: {
        readiness: { type: "array", maxItems: 8, items: readinessProbe },
        smoke: { type: "array", maxItems: 8, items: smokeCheck },
      },
    },
    security: {
      type: "object",
      additionalProperties: false,
      properties: {
        privileged: { type: "boolean" },
        host_mounts: {
          type: "array",
          maxItems: 8,
          items: {
            type: "object",
            additionalProperties: false,
            required: ["host_path", "path"],
            properties: {
              host_path: absolutePath,
              path: absolutePath,
              read_only: { type: "boolean" },
            },
          },
        },
        approval: {
          type: "object",
          additionalProperties: false,
          required: ["approved_by", "reference"],
          properties: { approved_by: shortText, reference: shortText },
        },
      },
    },
  },
} as const;
