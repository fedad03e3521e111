/** Allocations: the share of a node (all of it, or a GPU subset) a project holds. */
import type { AcceleratorVendor, CpuArchitecture, StorageMode } from "@gpuaas/contract";
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { ALLOCATION_TRANSITIONS, canTransition, GPU_HOLDING_STATES } from "./lifecycles.js";
import { newId } from "./mint-secret.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import { toAllocation } from "./to-api.js";
import type { Allocation, AllocationState } from "./types.js";

/** What an operator registers for a project. */
export interface AllocationInput {
  readonly project_id: string;
  readonly node_id: string;
  readonly accelerator: {
    readonly vendor: AcceleratorVendor;
    readonly family?: string;
    readonly sku?: string;
  };
  readonly cpu_architecture: CpuArchitecture;
  /** Host GPU indices the allocation may use; empty exactly when the vendor is `none`. */
  readonly gpu_indices: readonly number[];
  readonly cpu_cores: number;
  readonly memory_gib: number;
  readonly storage_modes: readonly StorageMode[];
}

/** Registers an active allocation. `store.invalid_value` when the shape breaks a schema rule. */
export async function createAllocation(db: StoreDb, input: AllocationInput): Promise<Allocation> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("allocations")
      .values({
        id: newId(),
        project_id: input.project_id,
        node_id: input.node_id,
        accelerator_vendor: input.accelerator.vendor,
        accelerator_family: input.accelerator.family ?? null,
        accelerator_sku: input.accelerator.sku ?? null,
        cpu_architecture: input.cpu_architecture,
        gpu_indices: [...new Set(input.gpu_indices)].sort((a, b) => a - b),
        cpu_cores: input.cpu_cores,
        memory_gib: input.memory_gib,
        storage_modes: [...new Set(input.storage_modes)],
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toAllocation(row);
}

/** The allocation with this id, or undefined. */
export async function getAllocation(db: StoreDb, id: string): Promise<Allocation | undefined> {
  const row = await db
    .selectFrom("allocations")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : toAllocation(row);
}

/** Allocations of a project or on a node (at least one filter), oldest first. */
export async function listAllocations(
  db: StoreDb,
  filter: { readonly project_id: string; readonly node_id?: string } | { readonly node_id: string },
): Promise<Allocation[]> {
  let query = db.selectFrom("allocations").selectAll();
  if ("project_id" in filter) query = query.where("project_id", "=", filter.project_id);
  if (filter.node_id !== undefined) query = query.where("node_id", "=", filter.node_id);
  const rows = await query.orderBy("created_at").orderBy("id").execute();
  return rows.map(toAllocation);
}

/**
 * Moves an allocation along `active → releasing → released`; entering `released` stamps
 * `released_at`. `allocation.illegal_transition` for any other move.
 */
export async function transitionAllocation(
  db: StoreDb,
  input: { readonly id: string; readonly to: AllocationState; readonly now?: Date },
): Promise<Allocation> {
  const now = input.now ?? new Date();
  return inTransaction(db, async (tx) => {
    const current = await tx
      .selectFrom("allocations")
      .select("state")
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (current === undefined)
      throw new StoreError("store.not_found", `allocation ${input.id} not found`);
    if (!canTransition(ALLOCATION_TRANSITIONS, current.state, input.to)) {
      throw new StoreError(
        "allocation.illegal_transition",
        `allocation ${input.id} cannot go from ${current.state} to ${input.to}`,
        { from: current.state, to: input.to, allowed: ALLOCATION_TRANSITIONS[current.state] },
      );
    }
    const row = await tx
      .updateTable("allocations")
      .set({
        state: input.to,
        updated_at: now,
        ...(input.to === "released" ? { released_at: now } : {}),
      })
      .where("id", "=", input.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAllocation(row);
  });
}

/**
 * The GPU indices instances already claim on an allocation (every instance not `failed` or
 * `decommissioned`), sorted. A stopped instance keeps its claim so that starting it cannot fail.
 */
export async function listClaimedGpuIndices(
  db: StoreDb,
  allocationId: string,
  options: { readonly excluding_instance_id?: string } = {},
): Promise<number[]> {
  let query = db
    .selectFrom("app_instances")
    .select("gpu_indices")
    .where("target_allocation_id", "=", allocationId)
    .where("state", "in", GPU_HOLDING_STATES);
  if (options.excluding_instance_id !== undefined)
    query = query.where("id", "!=", options.excluding_instance_id);
  const rows = await query.execute();
  return [...new Set(rows.flatMap((row) => row.gpu_indices))].sort((a, b) => a - b);
}
