/**
 * Idempotency keys: a retried request with the same key and the same body gets the first
 * response back instead of acting twice; the same key with another body is refused.
 */
import { createHash } from "node:crypto";
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { StoreError } from "./store-error.js";
import type { JsonValue } from "./types.js";

/** A response worth replaying: its HTTP status and JSON body. */
export interface IdempotentResponse {
  readonly status: number;
  readonly body: JsonValue;
}

/** The response, and whether it is the stored first response of an earlier request. */
export interface IdempotentOutcome extends IdempotentResponse {
  readonly replayed: boolean;
}

/** SHA-256 of a JSON value in canonical form (object keys sorted), to compare request bodies. */
export function hashRequest(value: JsonValue): string {
  return createHash("sha256").update(canonicalJson(value)).digest("hex");
}

function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] ?? null)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Runs `work` once per (project, key). The key is claimed first, in the same transaction as the
 * work and its response, so a concurrent request with the same key waits for the first one to
 * commit and then replays its response; if the first one fails, nothing is stored and a retry
 * runs afresh. Throw from `work` for outcomes that must not be replayed (e.g. internal errors).
 * `idempotency.key_reused` when the key was used with a different `request_hash`.
 */
export async function runIdempotent(
  db: StoreDb,
  key: { readonly project_id: string; readonly key: string; readonly request_hash: string },
  work: (tx: StoreDb) => Promise<IdempotentResponse>,
): Promise<IdempotentOutcome> {
  return inTransaction(db, async (tx) => {
    const claimed = await tx
      .insertInto("idempotency_keys")
      .values({ project_id: key.project_id, key: key.key, request_hash: key.request_hash })
      .onConflict((oc) => oc.columns(["project_id", "key"]).doNothing())
      .returning("key")
      .executeTakeFirst();
    if (claimed !== undefined) {
      const response = await work(tx);
      await tx
        .updateTable("idempotency_keys")
        .set({ response_status: response.status, response_body: JSON.stringify(response.body) })
        .where("project_id", "=", key.project_id)
        .where("key", "=", key.key)
        .execute();
      return { ...response, replayed: false };
    }
    const stored = await tx
      .selectFrom("idempotency_keys")
      .select(["request_hash", "response_status", "response_body"])
      .where("project_id", "=", key.project_id)
      .where("key", "=", key.key)
      .executeTakeFirstOrThrow();
    if (stored.request_hash !== key.request_hash) {
      throw new StoreError(
        "idempotency.key_reused",
        "this Idempotency-Key was already used with a different request body",
        { key: key.key },
      );
    }
    // A committed key always carries its response: it is written in the claiming transaction.
    return {
      status: stored.response_status ?? 500,
      body: stored.response_body,
      replayed: true,
    };
  });
}

/** Forgets keys created before `before`; returns how many. */
export async function purgeIdempotencyKeys(db: StoreDb, before: Date): Promise<number> {
  const result = await db
    .deleteFrom("idempotency_keys")
    .where("created_at", "<", before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
