/**
 * Outbox operations of the node-agent protocol beyond `tasks.ts`: queueing a task of any
 * {@link AgentTaskKind} (`workload.oci_logs` included), withdrawing one nobody is working on, and
 * shrinking a result once it has been delivered.
 */
import { type AgentTaskKind, toAgentDb } from "./agent-database.js";
import type { StoreDb } from "./database.js";
import { newId } from "./mint-secret.js";
import { withStoreErrors } from "./store-error.js";
import { toNodeTask } from "./to-api.js";
import type { JsonObject, JsonValue, NodeTask } from "./types.js";

/** A node task whose kind may be any {@link AgentTaskKind}. */
export type AgentTask = Omit<NodeTask, "kind"> & { readonly kind: AgentTaskKind };

type TaskRow = Parameters<typeof toNodeTask>[0];

/** Queues a task of any kind; callers that change state with it pass their transaction. */
export async function enqueueAgentTask(
  db: StoreDb,
  input: {
    readonly node_id: string;
    readonly instance_id?: string | null;
    readonly kind: AgentTaskKind;
    readonly spec: JsonObject;
    readonly correlation_id: string;
  },
): Promise<AgentTask> {
  const row = await withStoreErrors(() =>
    toAgentDb(db)
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
  return toNodeTask(row as unknown as TaskRow) as AgentTask;
}

/** The task with this id, of any kind, or undefined. */
export async function getAgentTask(db: StoreDb, id: string): Promise<AgentTask | undefined> {
  const row = await toAgentDb(db)
    .selectFrom("node_tasks")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row === undefined ? undefined : (toNodeTask(row as unknown as TaskRow) as AgentTask);
}

/**
 * Deletes a task no agent is working on: still queued, or leased with a lease that ran out. True
 * when it was withdrawn; false when an agent holds it or it is done.
 */
export async function withdrawTask(
  db: StoreDb,
  input: { readonly id: string; readonly now: Date },
): Promise<boolean> {
  const deleted = await toAgentDb(db)
    .deleteFrom("node_tasks")
    .where("id", "=", input.id)
    .where((eb) =>
      eb.or([
        eb("state", "=", "queued"),
        eb.and([eb("state", "=", "leased"), eb("lease_expires_at", "<=", input.now)]),
      ]),
    )
    .executeTakeFirst();
  return Number(deleted.numDeletedRows) > 0;
}

/**
 * Replaces a completed task's result, e.g. with a summary once a logs result has been handed to
 * the caller, so container output is not kept in the outbox.
 */
export async function replaceTaskResult(
  db: StoreDb,
  input: { readonly id: string; readonly result: JsonValue },
): Promise<void> {
  await toAgentDb(db)
    .updateTable("node_tasks")
    .set({ result: JSON.stringify(input.result) })
    .where("id", "=", input.id)
    .where("state", "in", ["succeeded", "failed"])
    .execute();
}
