/**
 * App instances: the launch (instance + node task + event in one transaction, the transactional
 * outbox), the observed-state lifecycle, revisions of what an instance should run, and members.
 */
import type { Engine, InstanceState } from "@gpuaas/contract";
import { sql } from "kysely";
import { listClaimedGpuIndices } from "./allocations.js";
import type { StoreDb } from "./database.js";
import { appendEvent, type EventInput } from "./events.js";
import { inTransaction } from "./in-transaction.js";
import { canTransition, INSTANCE_TRANSITIONS } from "./lifecycles.js";
import { newId } from "./mint-secret.js";
import { toPageLimit } from "./page-cursor.js";
import { withdrawRouteIntents } from "./route-intents.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import { enqueueTask, type TaskInput } from "./tasks.js";
import { toInstance, toInstanceMember } from "./to-api.js";
import type {
  DesiredState,
  Instance,
  InstanceMember,
  JsonObject,
  NodeTask,
  Page,
  StoreEvent,
} from "./types.js";

/** An accepted launch, as the preflight resolved it. */
export interface InstanceInput {
  /** The caller may mint the id (`newId`) to render the task spec before the transaction. */
  readonly id?: string;
  readonly project_id: string;
  readonly app_version_id: string;
  readonly target_allocation_id: string;
  readonly display_name: string;
  readonly engine?: Engine;
  readonly desired_state?: DesiredState;
  readonly resolved_values: JsonObject;
  readonly artifact_id: string;
  readonly resolved_digest: string;
  /** Host GPU indices the instance claims; each must be in the allocation and unclaimed. */
  readonly gpu_indices: readonly number[];
  /** The principal that launched it, e.g. `user:<id>`. */
  readonly created_by: string;
  readonly correlation_id: string;
}

/** Everything a launch writes. */
export interface LaunchRecord {
  readonly instance: Instance;
  readonly task: NodeTask;
  readonly event: StoreEvent;
}

function selectInstances(db: StoreDb) {
  return db
    .selectFrom("app_instances")
    .innerJoin("app_versions", "app_versions.id", "app_instances.app_version_id")
    .innerJoin("app_catalog", "app_catalog.id", "app_versions.app_id")
    .selectAll("app_instances")
    .select(["app_catalog.slug as app_slug", "app_versions.version as app_version"]);
}

async function loadInstance(db: StoreDb, id: string): Promise<Instance> {
  const row = await selectInstances(db).where("app_instances.id", "=", id).executeTakeFirst();
  if (row === undefined) throw new StoreError("store.not_found", `instance ${id} not found`);
  return toInstance(row);
}

/**
 * Writes an accepted launch: the instance (state `pending`), the node task that carries it out
 * (queued for the allocation's node) and its first event, in one transaction, so there is never
 * an instance without its task or a task without its instance. The allocation row is locked
 * while GPU claims are checked, so two launches cannot claim the same device:
 * `instance.gpu_outside_allocation`, `instance.gpu_claimed`; `store.invalid_reference` when the
 * allocation is not one of the project's.
 */
export async function createInstanceWithTask(
  db: StoreDb,
  input: {
    readonly instance: InstanceInput;
    readonly task: Pick<TaskInput, "kind" | "spec">;
    readonly event: Pick<EventInput, "type" | "message" | "data">;
  },
): Promise<LaunchRecord> {
  const launch = input.instance;
  return inTransaction(db, async (tx) => {
    const allocation = await tx
      .selectFrom("allocations")
      .select(["node_id", "gpu_indices"])
      .where("id", "=", launch.target_allocation_id)
      .where("project_id", "=", launch.project_id)
      .forUpdate()
      .executeTakeFirst();
    if (allocation === undefined) {
      throw new StoreError(
        "store.invalid_reference",
        `allocation ${launch.target_allocation_id} is not an allocation of project ${launch.project_id}`,
        { target_allocation_id: launch.target_allocation_id },
      );
    }
    const requested = [...new Set(launch.gpu_indices)].sort((a, b) => a - b);
    const outside = requested.filter((index) => !allocation.gpu_indices.includes(index));
    if (outside.length > 0) {
      throw new StoreError(
        "instance.gpu_outside_allocation",
        `GPU ${outside.join(", ")} is not part of allocation ${launch.target_allocation_id}`,
        { gpu_indices: outside, allocation_gpu_indices: allocation.gpu_indices },
      );
    }
    const claimed = await listClaimedGpuIndices(tx, launch.target_allocation_id);
    const taken = requested.filter((index) => claimed.includes(index));
    if (taken.length > 0) {
      throw new StoreError(
        "instance.gpu_claimed",
        `GPU ${taken.join(", ")} of allocation ${launch.target_allocation_id} is claimed by another instance`,
        { gpu_indices: taken },
      );
    }
    const id = launch.id ?? newId();
    await withStoreErrors(() =>
      tx
        .insertInto("app_instances")
        .values({
          id,
          project_id: launch.project_id,
          app_version_id: launch.app_version_id,
          target_allocation_id: launch.target_allocation_id,
          display_name: launch.display_name,
          engine: launch.engine ?? "node_agent",
          desired_state: launch.desired_state ?? "running",
          state: "pending",
          resolved_values: JSON.stringify(launch.resolved_values),
          artifact_id: launch.artifact_id,
          resolved_digest: launch.resolved_digest,
          gpu_indices: requested,
          created_by: launch.created_by,
          correlation_id: launch.correlation_id,
        })
        .execute(),
    );
    const task = await enqueueTask(tx, {
      node_id: allocation.node_id,
      instance_id: id,
      kind: input.task.kind,
      spec: input.task.spec,
      correlation_id: launch.correlation_id,
    });
    const event = await appendEvent(tx, {
      ...input.event,
      project_id: launch.project_id,
      instance_id: id,
      correlation_id: launch.correlation_id,
    });
    return { instance: await loadInstance(tx, id), task, event };
  });
}

/**
 * The instance with this id, or undefined. With `project_id`, an instance of another project is
 * reported as absent, so its existence does not leak.
 */
export async function getInstance(
  db: StoreDb,
  id: string,
  scope: { readonly project_id?: string } = {},
): Promise<Instance | undefined> {
  let query = selectInstances(db).where("app_instances.id", "=", id);
  if (scope.project_id !== undefined)
    query = query.where("app_instances.project_id", "=", scope.project_id);
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toInstance(row);
}

/** A project's instances, oldest first, after the cursor `after` (an instance id). */
export async function listInstances(
  db: StoreDb,
  filter: {
    readonly project_id: string;
    readonly states?: readonly InstanceState[];
    readonly after?: string;
    readonly limit?: number;
  },
): Promise<Page<Instance>> {
  const limit = toPageLimit(filter.limit);
  let query = selectInstances(db).where("app_instances.project_id", "=", filter.project_id);
  if (filter.states !== undefined) {
    if (filter.states.length === 0) return { items: [], next_cursor: null };
    query = query.where("app_instances.state", "in", filter.states);
  }
  if (filter.after !== undefined) {
    const cursor = await db
      .selectFrom("app_instances")
      .select("id")
      .where("id", "=", filter.after)
      .where("project_id", "=", filter.project_id)
      .executeTakeFirst();
    if (cursor === undefined) {
      throw new StoreError("store.invalid_cursor", "the cursor is not one this list handed out", {
        cursor: filter.after,
      });
    }
    // Compared in SQL: a JS Date would drop the microseconds and repeat the cursor's row.
    query = query.where(
      sql<boolean>`(app_instances.created_at, app_instances.id) > (SELECT created_at, id FROM app_instances WHERE id = ${filter.after})`,
    );
  }
  const rows = await query
    .orderBy("app_instances.created_at")
    .orderBy("app_instances.id")
    .limit(limit + 1)
    .execute();
  const items = rows.slice(0, limit).map(toInstance);
  return { items, next_cursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}

/**
 * Moves an instance's observed state and records an `instance.state_changed` event in the same
 * transaction. With `from`, the move happens only if the instance is still in that state
 * (`instance.state_conflict` otherwise); without it, from whatever state it is in.
 * `instance.illegal_transition` when the lifecycle does not allow the move.
 */
export async function transitionInstance(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly from?: InstanceState;
    readonly to: InstanceState;
    readonly correlation_id: string;
    readonly message?: string;
    readonly data?: JsonObject;
    readonly now?: Date;
  },
): Promise<Instance> {
  const now = input.now ?? new Date();
  if (input.from !== undefined) assertInstanceTransition(input.id, input.from, input.to);
  return inTransaction(db, async (tx) => {
    const current = await tx
      .selectFrom("app_instances")
      .select(["state", "project_id"])
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (current === undefined)
      throw new StoreError("store.not_found", `instance ${input.id} not found`);
    if (input.from !== undefined && current.state !== input.from) {
      throw new StoreError(
        "instance.state_conflict",
        `instance ${input.id} is ${current.state}, not ${input.from}`,
        { expected: input.from, actual: current.state },
      );
    }
    assertInstanceTransition(input.id, current.state, input.to);
    await tx
      .updateTable("app_instances")
      .set({ state: input.to, updated_at: now, state_changed_at: now })
      .where("id", "=", input.id)
      .execute();
    await appendEvent(tx, {
      project_id: current.project_id,
      instance_id: input.id,
      type: "instance.state_changed",
      message: input.message ?? `${current.state} → ${input.to}`,
      data: { ...input.data, from: current.state, to: input.to },
      correlation_id: input.correlation_id,
    });
    // Routes exist only while the instance runs: whatever moves it on withdraws them here, in the
    // same transaction, so no path can leave a route to a workload that is not running.
    if (current.state === "running") {
      const withdrawn = await withdrawRouteIntents(tx, { instance_id: input.id, now });
      if (withdrawn.length > 0) {
        await appendEvent(tx, {
          project_id: current.project_id,
          instance_id: input.id,
          type: "ingress.routes_withdrawn",
          message: `managed routes withdrawn (the instance is ${input.to}): ${withdrawn.join(", ")}`,
          data: { route_ids: withdrawn, state: input.to },
          correlation_id: input.correlation_id,
        });
      }
    }
    return loadInstance(tx, input.id);
  });
}

function assertInstanceTransition(id: string, from: InstanceState, to: InstanceState): void {
  if (canTransition(INSTANCE_TRANSITIONS, from, to)) return;
  throw new StoreError(
    "instance.illegal_transition",
    `instance ${id} cannot go from ${from} to ${to}`,
    {
      from,
      to,
      allowed: INSTANCE_TRANSITIONS[from],
    },
  );
}

/**
 * Changes what an instance should run or be (desired state, app version, artifact, values: an
 * upgrade, a rollback, a stop or start request) and bumps its generation when anything changed.
 * The caller queues the matching task and event in the same transaction.
 */
export async function reviseInstance(
  db: StoreDb,
  input: {
    readonly id: string;
    readonly desired_state?: DesiredState;
    readonly app_version_id?: string;
    readonly artifact_id?: string;
    readonly resolved_digest?: string;
    readonly resolved_values?: JsonObject;
    readonly now?: Date;
  },
): Promise<Instance> {
  const now = input.now ?? new Date();
  return inTransaction(db, async (tx) => {
    const current = await tx
      .selectFrom("app_instances")
      .selectAll()
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (current === undefined)
      throw new StoreError("store.not_found", `instance ${input.id} not found`);
    const changes = {
      ...(input.desired_state !== undefined && input.desired_state !== current.desired_state
        ? { desired_state: input.desired_state }
        : {}),
      ...(input.app_version_id !== undefined && input.app_version_id !== current.app_version_id
        ? { app_version_id: input.app_version_id }
        : {}),
      ...(input.artifact_id !== undefined && input.artifact_id !== current.artifact_id
        ? { artifact_id: input.artifact_id }
        : {}),
      ...(input.resolved_digest !== undefined && input.resolved_digest !== current.resolved_digest
        ? { resolved_digest: input.resolved_digest }
        : {}),
      ...(input.resolved_values !== undefined
        ? { resolved_values: JSON.stringify(input.resolved_values) }
        : {}),
    };
    if (Object.keys(changes).length > 0) {
      await withStoreErrors(() =>
        tx
          .updateTable("app_instances")
          .set({ ...changes, generation: current.generation + 1, updated_at: now })
          .where("id", "=", input.id)
          .execute(),
      );
    }
    return loadInstance(tx, input.id);
  });
}

/** Records (or updates) a member of an instance, keyed by its name within the instance. */
export async function upsertInstanceMember(
  db: StoreDb,
  input: {
    readonly instance_id: string;
    readonly name: string;
    readonly node_id: string;
    readonly container_id?: string | null;
    readonly host_port?: number | null;
    readonly endpoint_url?: string | null;
    readonly now?: Date;
  },
): Promise<InstanceMember> {
  const now = input.now ?? new Date();
  const fields = {
    node_id: input.node_id,
    container_id: input.container_id ?? null,
    host_port: input.host_port ?? null,
    endpoint_url: input.endpoint_url ?? null,
    updated_at: now,
  };
  const row = await withStoreErrors(() =>
    db
      .insertInto("app_instance_members")
      .values({ id: newId(), instance_id: input.instance_id, name: input.name, ...fields })
      .onConflict((oc) => oc.columns(["instance_id", "name"]).doUpdateSet(fields))
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toInstanceMember(row);
}

/** The members of an instance, by name. */
export async function listInstanceMembers(
  db: StoreDb,
  instanceId: string,
): Promise<InstanceMember[]> {
  const rows = await db
    .selectFrom("app_instance_members")
    .selectAll()
    .where("instance_id", "=", instanceId)
    .orderBy("name")
    .execute();
  return rows.map(toInstanceMember);
}

/** One member of an instance, or undefined. */
export async function getInstanceMember(
  db: StoreDb,
  instanceId: string,
  memberId: string,
): Promise<InstanceMember | undefined> {
  const row = await db
    .selectFrom("app_instance_members")
    .selectAll()
    .where("instance_id", "=", instanceId)
    .where("id", "=", memberId)
    .executeTakeFirst();
  return row === undefined ? undefined : toInstanceMember(row);
}
