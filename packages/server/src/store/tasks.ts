/**
 * The node-task outbox. Tasks are written in the same transaction as the state change that needs
 * them, and agents lease them: `FOR UPDATE SKIP LOCKED` lets any number of control-plane replicas
 * hand out leases from one PostgreSQL without ever giving a task to two leasers at once. Delivery
 * is at-least-once: a lease that expires is handed out again, so handlers must be idempotent.
 */
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { newId } from "./mint-secret.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import { toNodeTask } from "./to-api.js";
import type { JsonObject, JsonValue, NodeTask, TaskKind } from "./types.js";

/** A task to queue for a node. */
export interface TaskInput {
  readonly node_id: string;
  readonly instance_id?: string | null;
  readonly kind: TaskKind;
  /** The rendered spec the agent executes (from the `engines` package for workloads). */
  readonly spec: JsonObject;
  readonly correlation_id: string;
}

/** Queues a task; callers that change state with it pass their transaction as `db`. */
export async function enqueueTask(db: StoreDb, input: TaskInput): Promise<NodeTask> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("node_tasks")
      .values({
        id: newId(),
        node_id: input.node_id,
        instance_id: input.instance_id ?? null,
        kind: input.kind,
        spec: JSON.stringify(input.spec),
        correlation_id: input.correlation_id,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toNodeTask(row);
}

/** The task with this id, or undefined. */
export async function getTask(db: StoreDb, id: string): Promise<NodeTask | undefined> {
  const row = await db.selectFrom("node_tasks").selectAll().where("id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toNodeTask(row);
}

/** Tasks of an instance or of a node, in queue order. */
export async function listTasks(
  db: StoreDb,
  filter: { readonly instance_id: string } | { readonly node_id: string },
): Promise<NodeTask[]> {
  const query = db.selectFrom("node_tasks").selectAll();
  const rows = await ("instance_id" in filter
    ? query.where("instance_id", "=", filter.instance_id)
    : query.where("node_id", "=", filter.node_id)
  )
    .orderBy("seq")
    .execute();
  return rows.map(toNodeTask);
}

/**
 * Leases up to `max` of a node's tasks to `owner` until `now + lease_ms`, oldest first: queued
 * tasks, and leased ones whose lease expired (their `attempts` grows). Rows another transaction
 * is leasing are skipped rather than waited for, and a row that transaction has just leased no
 * longer matches once PostgreSQL re-checks it, so no task is handed out twice.
 */
export async function leaseTasks(
  db: StoreDb,
  input: {
    readonly node_id: string;
    readonly owner: string;
    readonly max: number;
    readonly lease_ms: number;
    readonly now?: Date;
  },
): Promise<NodeTask[]> {
  const now = input.now ?? new Date();
  const max = Math.max(0, Math.trunc(input.max));
  if (max === 0) return [];
  const expires = new Date(now.getTime() + input.lease_ms);
  return inTransaction(db, async (tx) => {
    const picked = await tx
      .selectFrom("node_tasks")
      .select("id")
      .where("node_id", "=", input.node_id)
      .where((eb) =>
        eb.or([
          eb("state", "=", "queued"),
          eb.and([eb("state", "=", "leased"), eb("lease_expires_at", "<=", now)]),
        ]),
      )
      .orderBy("seq")
      .limit(max)
      .forUpdate()
      .skipLocked()
      .execute();
    if (picked.length === 0) return [];
    const rows = await tx
      .updateTable("node_tasks")
      .set((eb) => ({
        state: "leased",
        lease_owner: input.owner,
        lease_expires_at: expires,
        attempts: eb("attempts", "+", 1),
        updated_at: now,
      }))
      .where(
        "id",
        "in",
        picked.map((row) => row.id),
      )
      .returningAll()
      .execute();
    // UPDATE … RETURNING has no order of its own.
    return rows.sort((a, b) => Number(BigInt(a.seq) - BigInt(b.seq))).map(toNodeTask);
  });
}

/** Extends a lease its owner still holds; `task.lease_not_held` otherwise. */
export async function extendTaskLease(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly owner: string;
    readonly lease_ms: number;
    readonly now?: Date;
  },
): Promise<NodeTask> {
  const now = input.now ?? new Date();
  const row = await db
    .updateTable("node_tasks")
    .set({ lease_expires_at: new Date(now.getTime() + input.lease_ms), updated_at: now })
    .where("id", "=", input.id)
    .where("state", "=", "leased")
    .where("lease_owner", "=", input.owner)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw await leaseNotHeld(db, input.id);
  return toNodeTask(row);
}

/**
 * Records a task's outcome. Only the current lease owner may: after a lease expired and moved to
 * another owner, or once the task is done, `task.lease_not_held`. A late result from an expired
 * lease nobody took over is still accepted, since the work it reports did happen.
 */
export async function completeTask(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly owner: string;
    readonly outcome: "succeeded" | "failed";
    readonly result: JsonValue;
    readonly now?: Date;
  },
): Promise<NodeTask> {
  const now = input.now ?? new Date();
  const row = await db
    .updateTable("node_tasks")
    .set({
      state: input.outcome,
      result: JSON.stringify(input.result),
      lease_owner: null,
      lease_expires_at: null,
      completed_at: now,
      updated_at: now,
    })
    .where("id", "=", input.id)
    .where("state", "=", "leased")
    .where("lease_owner", "=", input.owner)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw await leaseNotHeld(db, input.id);
  return toNodeTask(row);
}

async function leaseNotHeld(db: StoreDb, id: string): Promise<StoreError> {
  const task = await db
    .selectFrom("node_tasks")
    .select("state")
    .where("id", "=", id)
    .executeTakeFirst();
  if (task === undefined) return new StoreError("store.not_found", `task ${id} not found`);
  return new StoreError(
    "task.lease_not_held",
    `task ${id} is ${task.state}${task.state === "leased" ? " by another owner" : ""}, not leased to this owner`,
    { state: task.state },
  );
}
