/**
 * Store operations the instance API needs beyond `instances.ts`: locking an allocation for a
 * launch's GPU pick, removing an instance that holds nothing on a node, and finding what an
 * instance ran before its latest upgrade.
 */
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { toAllocation } from "./to-api.js";
import type { Allocation, JsonObject } from "./types.js";

/**
 * Reads an allocation and locks its row until the transaction ends, so the GPU claims read next
 * cannot change before the launch that picks from them commits. Call it inside a transaction.
 */
export async function lockAllocation(tx: StoreDb, id: string): Promise<Allocation | undefined> {
  const row = await tx
    .selectFrom("allocations")
    .selectAll()
    .where("id", "=", id)
    .forUpdate()
    .executeTakeFirst();
  return row === undefined ? undefined : toAllocation(row);
}

/** Why an instance could not be removed; `removed` when it was. */
export type InstanceRemoval =
  | { readonly removed: true }
  | { readonly removed: false; readonly reason: "not_found" }
  | { readonly removed: false; readonly reason: "still_deployed"; readonly state: string };

/**
 * Deletes an instance of a project with its tasks, members and events, when it holds nothing on
 * a node: it is `decommissioned`, or it is `pending` and no agent ever leased one of its tasks
 * (the queued launch is withdrawn with it). The rows are locked first, so an agent cannot lease
 * the launch while it is being withdrawn. The audit log keeps the instance's history.
 */
export async function removeInstance(
  db: StoreDb,
  input: { readonly id: string; readonly project_id: string },
): Promise<InstanceRemoval> {
  return inTransaction(db, async (tx) => {
    const instance = await tx
      .selectFrom("app_instances")
      .select("state")
      .where("id", "=", input.id)
      .where("project_id", "=", input.project_id)
      .forUpdate()
      .executeTakeFirst();
    if (instance === undefined) return { removed: false, reason: "not_found" };
    if (instance.state !== "decommissioned") {
      const tasks = await tx
        .selectFrom("node_tasks")
        .select(["state", "attempts"])
        .where("instance_id", "=", input.id)
        .forUpdate()
        .execute();
      const neverDeployed =
        instance.state === "pending" &&
        tasks.every((task) => task.state === "queued" && task.attempts === 0);
      if (!neverDeployed)
        return { removed: false, reason: "still_deployed", state: instance.state };
    }
    // Tasks, members and events go with the instance (ON DELETE CASCADE).
    await tx.deleteFrom("app_instances").where("id", "=", input.id).execute();
    return { removed: true };
  });
}

/** What an instance ran before an upgrade. */
export interface RollbackTarget {
  readonly app_version_id: string;
  readonly artifact_id: string | null;
}

/**
 * The app version (and artifact) an instance ran before the latest upgrade that brought it to
 * `current_app_version_id`, from its `instance.upgrade_requested` events; undefined when no
 * upgrade led there. Rolling back repeatedly walks back through the upgrades in turn.
 */
export async function findRollbackTarget(
  db: StoreDb,
  input: { readonly instance_id: string; readonly current_app_version_id: string },
): Promise<RollbackTarget | undefined> {
  const rows = await db
    .selectFrom("events")
    .select("data")
    .where("instance_id", "=", input.instance_id)
    .where("type", "=", "instance.upgrade_requested")
    .orderBy("id", "desc")
    .execute();
  for (const row of rows) {
    const data = row.data as JsonObject;
    if (data.to_app_version_id !== input.current_app_version_id) continue;
    if (typeof data.from_app_version_id !== "string") continue;
    return {
      app_version_id: data.from_app_version_id,
      artifact_id: typeof data.from_artifact_id === "string" ? data.from_artifact_id : null,
    };
  }
  return undefined;
}
