/**
 * What the reconciler needs to know about a node's instances: which instances live on it (through
 * their allocation), which of them still have work queued, and which nodes stopped reporting.
 */
import type { InstanceState } from "@gpuaas/contract";
import { toAgentDb } from "./agent-database.js";
import type { StoreDb } from "./database.js";
import type { DesiredState } from "./types.js";

/** The facts of an instance the reconciler reads. */
export interface NodeInstance {
  readonly id: string;
  readonly project_id: string;
  readonly app_version_id: string;
  readonly state: InstanceState;
  readonly desired_state: DesiredState;
  readonly generation: number;
  readonly node_id: string;
}

/** Instances placed on a node (through their allocation), optionally only in some states. */
export async function listNodeInstances(
  db: StoreDb,
  input: { readonly node_id: string; readonly states?: readonly InstanceState[] },
): Promise<NodeInstance[]> {
  if (input.states !== undefined && input.states.length === 0) return [];
  let query = db
    .selectFrom("app_instances")
    .innerJoin("allocations", "allocations.id", "app_instances.target_allocation_id")
    .select([
      "app_instances.id",
      "app_instances.project_id",
      "app_instances.app_version_id",
      "app_instances.state",
      "app_instances.desired_state",
      "app_instances.generation",
      "allocations.node_id",
    ])
    .where("allocations.node_id", "=", input.node_id);
  if (input.states !== undefined) query = query.where("app_instances.state", "in", input.states);
  return query.orderBy("app_instances.created_at").orderBy("app_instances.id").execute();
}

/** The node an instance is placed on, or undefined when the instance does not exist. */
export async function getInstanceNode(
  db: StoreDb,
  instanceId: string,
): Promise<NodeInstance | undefined> {
  return db
    .selectFrom("app_instances")
    .innerJoin("allocations", "allocations.id", "app_instances.target_allocation_id")
    .select([
      "app_instances.id",
      "app_instances.project_id",
      "app_instances.app_version_id",
      "app_instances.state",
      "app_instances.desired_state",
      "app_instances.generation",
      "allocations.node_id",
    ])
    .where("app_instances.id", "=", instanceId)
    .executeTakeFirst();
}

/**
 * Ids of the instances among `instanceIds` that have a workload task (launch, control, remove)
 * queued or leased: their pending result, not an inventory report, decides their state.
 */
export async function listInstancesWithPendingWork(
  db: StoreDb,
  instanceIds: readonly string[],
): Promise<Set<string>> {
  if (instanceIds.length === 0) return new Set();
  const rows = await toAgentDb(db)
    .selectFrom("node_tasks")
    .select("instance_id")
    .distinct()
    .where("instance_id", "in", instanceIds)
    .where("state", "in", ["queued", "leased"])
    .where("kind", "not in", ["workload.oci_logs", "workload.oci_runtime_status"])
    .execute();
  return new Set(rows.flatMap((row) => (row.instance_id === null ? [] : [row.instance_id])));
}

/**
 * Moves `online` nodes whose last heartbeat is older than `cutoff` (or who never sent one) to
 * `offline` and returns their ids. Rows another replica's sweep holds are skipped, so two
 * sweeps never take the same node.
 */
export async function markLostNodesOffline(
  db: StoreDb,
  input: { readonly cutoff: Date; readonly now: Date },
): Promise<string[]> {
  const lost = await db
    .selectFrom("nodes")
    .select("id")
    .where("state", "=", "online")
    .where((eb) =>
      eb.or([eb("last_heartbeat_at", "is", null), eb("last_heartbeat_at", "<", input.cutoff)]),
    )
    .orderBy("id")
    .forUpdate()
    .skipLocked()
    .execute();
  if (lost.length === 0) return [];
  const ids = lost.map((row) => row.id);
  await db
    .updateTable("nodes")
    .set({ state: "offline", updated_at: input.now })
    .where("id", "in", ids)
    .where("state", "=", "online")
    .execute();
  return ids;
}

/**
 * Draining nodes whose agent has stopped heartbeating (no heartbeat since `cutoff`). They keep
 * their state, which is the operator's intent, but their instances are as lost as anywhere else.
 */
export async function listLostDrainingNodes(
  db: StoreDb,
  input: { readonly cutoff: Date },
): Promise<string[]> {
  const rows = await db
    .selectFrom("nodes")
    .select("id")
    .where("state", "=", "draining")
    .where((eb) =>
      eb.or([eb("last_heartbeat_at", "is", null), eb("last_heartbeat_at", "<", input.cutoff)]),
    )
    .orderBy("id")
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map((row) => row.id);
}

/** Deletes an instance's members (its containers are gone). */
export async function deleteInstanceMembers(db: StoreDb, instanceId: string): Promise<void> {
  await db.deleteFrom("app_instance_members").where("instance_id", "=", instanceId).execute();
}

/** How to reach the node an allocation is on, as its agent reported it. */
export interface NodeReach {
  readonly node_id: string;
  readonly name: string;
  /** The host name the agent registered with, if any. */
  readonly hostname: string | undefined;
  /** The address the platform edge dials for the node's published ports, if the agent sent one. */
  readonly address: string | undefined;
}

/** The node of an allocation with its reported host name and address, or undefined. */
export async function getAllocationNode(
  db: StoreDb,
  allocationId: string,
): Promise<NodeReach | undefined> {
  const row = await db
    .selectFrom("allocations")
    .innerJoin("nodes", "nodes.id", "allocations.node_id")
    .select(["nodes.id", "nodes.name", "nodes.inventory"])
    .where("allocations.id", "=", allocationId)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const text = (value: unknown): string | undefined =>
    typeof value === "string" && value !== "" ? value : undefined;
  return {
    node_id: row.id,
    name: row.name,
    hostname: text(row.inventory.hostname),
    address: text(row.inventory.address),
  };
}
