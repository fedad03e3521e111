/** Trusted artifact records of app versions and their lifecycle. */
import type {
  AcceleratorVendor,
  ArtifactState,
  CpuArchitecture,
  MediaType,
} from "@gpuaas/contract";
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { ARTIFACT_TRANSITIONS, canTransition } from "./lifecycles.js";
import { newId } from "./mint-secret.js";
import { StoreError, toStoreError, withStoreErrors } from "./store-error.js";
import { toArtifact } from "./to-api.js";
import type { Artifact } from "./types.js";

/** What an operator registers: an image by digest, with the metadata the platform trusts. */
export interface ArtifactInput {
  readonly app_version_id: string;
  /** The profile's `artifact_name` this record implements. */
  readonly artifact_name: string;
  /** `registry/repository` without tag or digest. */
  readonly repository: string;
  readonly digest: string;
  readonly media_type: MediaType;
  readonly platform?: { readonly os: string; readonly architecture: CpuArchitecture };
  readonly accelerator?: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
}

/**
 * Records an artifact in state `pending`. `store.conflict` when the repository and digest are
 * registered already; `store.invalid_value` for a tag or a digest that is not `sha256:<64 hex>`.
 */
export async function createArtifact(db: StoreDb, input: ArtifactInput): Promise<Artifact> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("app_artifacts")
      .values({
        id: newId(),
        app_version_id: input.app_version_id,
        artifact_name: input.artifact_name,
        repository: input.repository,
        digest: input.digest,
        media_type: input.media_type,
        platform_os: input.platform?.os ?? null,
        platform_architecture: input.platform?.architecture ?? null,
        accelerator_vendor: input.accelerator?.vendor ?? null,
        accelerator_family: input.accelerator?.family ?? null,
        accelerator_sku: input.accelerator?.sku ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toArtifact(row);
}

/** The artifact with this id, or undefined. */
export async function getArtifact(db: StoreDb, id: string): Promise<Artifact | undefined> {
  const row = await db
    .selectFrom("app_artifacts")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : toArtifact(row);
}

/** The artifacts of an app version, optionally only those in the given states. */
export async function listArtifacts(
  db: StoreDb,
  filter: { readonly app_version_id: string; readonly states?: readonly ArtifactState[] },
): Promise<Artifact[]> {
  let query = db
    .selectFrom("app_artifacts")
    .selectAll()
    .where("app_version_id", "=", filter.app_version_id);
  if (filter.states !== undefined) {
    if (filter.states.length === 0) return [];
    query = query.where("state", "in", filter.states);
  }
  const rows = await query.orderBy("created_at").orderBy("id").execute();
  return rows.map(toArtifact);
}

/**
 * Moves an artifact along `pending → verified → published → promoted` (or to `retired`).
 * Entering `verified` stamps `verified_at`. `artifact.illegal_transition` for any other move.
 */
export async function transitionArtifact(
  db: StoreDb,
  input: { readonly id: string; readonly to: ArtifactState; readonly now?: Date },
): Promise<Artifact> {
  const now = input.now ?? new Date();
  return inTransaction(db, async (tx) => {
    const current = await tx
      .selectFrom("app_artifacts")
      .select("state")
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (current === undefined)
      throw new StoreError("store.not_found", `artifact ${input.id} not found`);
    if (!canTransition(ARTIFACT_TRANSITIONS, current.state, input.to)) {
      throw new StoreError(
        "artifact.illegal_transition",
        `artifact ${input.id} cannot go from ${current.state} to ${input.to}`,
        { from: current.state, to: input.to, allowed: ARTIFACT_TRANSITIONS[current.state] },
      );
    }
    const row = await tx
      .updateTable("app_artifacts")
      .set({
        state: input.to,
        updated_at: now,
        ...(input.to === "verified" ? { verified_at: now } : {}),
      })
      .where("id", "=", input.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toArtifact(row);
  });
}

/**
 * Deletes an artifact that was never launched. `store.in_use` when an instance references it:
 * retire it instead, so the instance keeps its record.
 */
export async function deleteArtifact(db: StoreDb, id: string): Promise<void> {
  try {
    const result = await db.deleteFrom("app_artifacts").where("id", "=", id).executeTakeFirst();
    if (result.numDeletedRows === 0n)
      throw new StoreError("store.not_found", `artifact ${id} not found`);
  } catch (error) {
    const mapped = toStoreError(error);
    if (mapped instanceof StoreError && mapped.code === "store.invalid_reference")
      throw new StoreError("store.in_use", `artifact ${id} is used by an instance; retire it`, {
        ...mapped.details,
      });
    throw mapped;
  }
}
