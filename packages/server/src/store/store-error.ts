/**
 * The store's catalogue of stable error codes. Each code carries the HTTP status the API answers
 * with, so a code without a status does not compile. Callers branch on `code`, never on message.
 */
export const STORE_ERRORS = {
  "store.not_found": { status: 404, summary: "The resource does not exist." },
  "store.conflict": {
    status: 409,
    summary: "A resource with the same unique name or key already exists.",
  },
  "store.invalid_reference": {
    status: 422,
    summary: "The request names a related resource that does not exist.",
  },
  "store.invalid_value": {
    status: 422,
    summary: "A value breaks a rule of the schema (an enumeration, a range, a digest form).",
  },
  "store.invalid_cursor": {
    status: 400,
    summary: "The page cursor is not one this list handed out.",
  },
  "store.in_use": {
    status: 409,
    summary: "The resource is still referenced and cannot be deleted.",
  },
  "store.migration_failed": {
    status: 500,
    summary: "The schema could not be brought up to date; the store did not open.",
  },
  "instance.illegal_transition": {
    status: 409,
    summary: "The instance lifecycle does not allow this state change.",
  },
  "instance.state_conflict": {
    status: 409,
    summary: "The instance is no longer in the state the change expected.",
  },
  "instance.gpu_claimed": {
    status: 409,
    summary: "A requested GPU is already claimed by another instance on the allocation.",
  },
  "instance.gpu_outside_allocation": {
    status: 422,
    summary: "A requested GPU index is not part of the allocation's device mask.",
  },
  "artifact.illegal_transition": {
    status: 409,
    summary: "The artifact lifecycle does not allow this state change.",
  },
  "allocation.illegal_transition": {
    status: 409,
    summary: "The allocation lifecycle does not allow this state change.",
  },
  "node.illegal_transition": {
    status: 409,
    summary: "The node lifecycle does not allow this state change.",
  },
  "task.lease_not_held": {
    status: 409,
    summary: "The task is not leased to this owner (the lease expired and moved, or it is done).",
  },
  "idempotency.key_reused": {
    status: 422,
    summary: "The idempotency key was already used with a different request body.",
  },
} as const satisfies Record<string, { readonly status: number; readonly summary: string }>;

/** A stable store error code. */
export type StoreErrorCode = keyof typeof STORE_ERRORS;

/** An error the store raises on purpose; `details` never holds secrets or raw row values. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly status: number;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: StoreErrorCode,
    message: string,
    details?: Readonly<Record<string, unknown>>,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.status = STORE_ERRORS[code].status;
    this.details = details;
  }
}

/** True when `error` is a {@link StoreError}, optionally with the given code. */
export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}

interface DatabaseError {
  readonly code: string;
  readonly constraint?: string;
  readonly table?: string;
}

function isDatabaseError(error: unknown): error is DatabaseError {
  return error instanceof Error && typeof (error as Partial<DatabaseError>).code === "string";
}

/**
 * Turns a constraint violation from PostgreSQL or PGlite (both report SQLSTATE in `code`) into a
 * coded {@link StoreError}; anything else is returned unchanged. Only the constraint and table
 * names go into `details`: the server's own detail text quotes row values.
 */
export function toStoreError(error: unknown): unknown {
  if (!isDatabaseError(error)) return error;
  const details = {
    ...(error.table === undefined ? {} : { table: error.table }),
    ...(error.constraint === undefined ? {} : { constraint: error.constraint }),
  };
  switch (error.code) {
    case "23505":
      return new StoreError("store.conflict", "already exists", details, { cause: error });
    case "23503":
      return new StoreError(
        "store.invalid_reference",
        "a referenced resource does not exist",
        details,
        { cause: error },
      );
    case "23502":
    case "23514":
    case "22P02":
    case "22003":
      return new StoreError("store.invalid_value", "a value breaks a schema rule", details, {
        cause: error,
      });
    default:
      return error;
  }
}

/** Runs `work` and rethrows constraint violations as coded {@link StoreError}s. */
export async function withStoreErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toStoreError(error);
  }
}
