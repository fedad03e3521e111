/** JSON Schema fragments shared by route definitions (they also feed the OpenAPI document). */

/** An id minted by the store (a UUID). */
export const idSchema = {
  type: "string",
  minLength: 1,
  maxLength: 64,
  pattern: "^[A-Za-z0-9_-]+$",
} as const;

/** An app slug. */
export const slugSchema = { type: "string", pattern: "^[a-z][a-z0-9-]{0,61}[a-z0-9]$" } as const;

/** An app version label. */
export const versionSchema = {
  type: "string",
  pattern: "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$",
} as const;

/** Path parameters `{project_id}`. */
export const projectParams = {
  type: "object",
  additionalProperties: false,
  required: ["project_id"],
  properties: { project_id: idSchema },
} as const;

/** Any JSON object in a response (the store's API shapes). */
export const objectResponse = { type: "object", additionalProperties: true } as const;

/** A list response `{items: [...]}`. */
export const listResponse = {
  type: "object",
  additionalProperties: false,
  required: ["items"],
  properties: {
    items: { type: "array", items: objectResponse },
    next_cursor: { type: ["string", "null"] },
  },
} as const;

/** The one error body, for the OpenAPI document. */
export const errorResponse = {
  type: "object",
  required: ["code", "message", "correlation_id"],
  properties: {
    code: { type: "string" },
    message: { type: "string" },
    details: { type: "object", additionalProperties: true },
    issues: {
      type: "array",
      items: {
        type: "object",
        properties: {
          pointer: { type: "string" },
          code: { type: "string" },
          message: { type: "string" },
        },
      },
    },
    correlation_id: { type: "string" },
  },
} as const;

/** Standard error responses every authorised route can give. */
export const errorResponses = {
  400: errorResponse,
  401: errorResponse,
  403: errorResponse,
  404: errorResponse,
  409: errorResponse,
  422: errorResponse,
} as const;
