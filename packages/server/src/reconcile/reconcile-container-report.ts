/**
 * Reconciles instances in `unknown` from an agent's report of the containers it found by their
 * labels (after a restart, or after its node was marked offline). A running container makes its
 * instance `running`, a stopped one `stopped`; a container that is gone settles the instance as
 * `decommissioned` when that was asked for, else `failed`. Instances with a task still queued or
 * leased are left to that task's result.
 */
import type { InstanceState } from "@gpuaas/contract";
import { LABEL_PREFIX, toContainerName } from "@gpuaas/engines";
import type { IngressSettings } from "../ingress/ingress-settings.js";
import { recordInstanceRoutes } from "../ingress/record-instance-routes.js";
import {
  appendEvent,
  inTransaction,
  type StoreDb,
  transitionInstance,
  upsertInstanceMember,
} from "../store/index.js";
import {
  listInstancesWithPendingWork,
  listNodeInstances,
  type NodeInstance,
} from "../store/node-instances.js";
import type { JsonObject } from "../store/types.js";
import { moveUnlessChanged } from "./sweep-lost-nodes.js";

/** One container as the agent reports it. */
export interface ReportedContainer {
  readonly name: string;
  readonly container_id?: string;
  /** The runtime's state: `running`, `exited`, `created`, `paused`, `stopped`, … */
  readonly state: string;
  /** The runtime's own running flag, when it reports one (it wins over `state`). */
  readonly running?: boolean;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ports?: readonly { readonly container_port?: number; readonly host_port: number }[];
}

/** What a report changed, and what it found that the control plane does not know. */
export interface ContainerReconciliation {
  readonly reconciled: readonly {
    readonly instance_id: string;
    readonly from: InstanceState;
    readonly to: InstanceState;
  }[];
  /** Unknown instances left alone, with why. */
  readonly skipped: readonly { readonly instance_id: string; readonly reason: string }[];
  /**
   * Platform containers (by label) whose instance is decommissioned or not placed on this node:
   * the agent may remove them.
   */
  readonly orphans: readonly string[];
}

const INSTANCE_LABEL = `${LABEL_PREFIX}.instance`;
const MANAGED_LABEL = `${LABEL_PREFIX}.managed`;

function findContainer(
  containers: readonly ReportedContainer[],
  instanceId: string,
): ReportedContainer | undefined {
  const name = toContainerName(instanceId);
  return containers.find(
    (container) => container.labels?.[INSTANCE_LABEL] === instanceId || container.name === name,
  );
}

/** Reconciles the node's `unknown` instances against the reported containers. */
export async function reconcileContainerReport(
  db: StoreDb,
  input: {
    readonly node_id: string;
    readonly containers: readonly ReportedContainer[];
    readonly correlation_id: string;
    readonly now: Date;
    /** With it, an instance found running gets its managed routes derived and stored again. */
    readonly ingress?: IngressSettings;
  },
): Promise<ContainerReconciliation> {
  return inTransaction(db, async (tx) => {
    const all = await listNodeInstances(tx, { node_id: input.node_id });
    const known = new Map(all.map((instance) => [instance.id, instance]));
    const orphans = input.containers
      .filter((container) => {
        const id = container.labels?.[INSTANCE_LABEL];
        if (id === undefined || container.labels?.[MANAGED_LABEL] !== "true") return false;
        const instance = known.get(id);
        return instance === undefined || instance.state === "decommissioned";
      })
      .map((container) => container.name);
    const unknown = all.filter((instance) => instance.state === "unknown");
    const busy = await listInstancesWithPendingWork(
      tx,
      unknown.map((instance) => instance.id),
    );
    const reconciled: { instance_id: string; from: InstanceState; to: InstanceState }[] = [];
    const skipped: { instance_id: string; reason: string }[] = [];
    for (const instance of unknown) {
      if (busy.has(instance.id)) {
        skipped.push({ instance_id: instance.id, reason: "task_pending" });
        continue;
      }
      const container = findContainer(input.containers, instance.id);
      const to = toObservedState(instance, container);
      const data: JsonObject = {
        reason: container === undefined ? "container_missing" : "container_reported",
        node_id: input.node_id,
        ...(container !== undefined
          ? {
              container_name: container.name,
              container_state: container.state,
              ...(container.container_id !== undefined
                ? { container_id: container.container_id }
                : {}),
            }
          : {}),
      };
      const moved = await moveUnlessChanged(() =>
        transitionInstance(tx, {
          id: instance.id,
          from: "unknown",
          to,
          correlation_id: input.correlation_id,
          message:
            container === undefined
              ? `the agent of node ${input.node_id} reports no container for the instance`
              : `the agent of node ${input.node_id} reports container ${container.name} ${container.state}`,
          data,
          now: input.now,
        }),
      );
      if (!moved) {
        skipped.push({ instance_id: instance.id, reason: "state_changed" });
        continue;
      }
      if (container !== undefined) await recordMember(tx, instance, container, input);
      if (to === "running" && input.ingress !== undefined) {
        await recordInstanceRoutes(tx, {
          instance_id: instance.id,
          ports: container?.ports ?? [],
          settings: input.ingress,
          correlation_id: input.correlation_id,
          now: input.now,
        });
      }
      await appendEvent(tx, {
        project_id: instance.project_id,
        instance_id: instance.id,
        type: "instance.reconciled",
        message: `reconciled from the node's container report: unknown → ${to}`,
        data: { ...data, to },
        correlation_id: input.correlation_id,
      });
      reconciled.push({ instance_id: instance.id, from: "unknown", to });
    }
    return { reconciled, skipped, orphans };
  });
}

function toObservedState(
  instance: NodeInstance,
  container: ReportedContainer | undefined,
): InstanceState {
  if (container === undefined) {
    return instance.desired_state === "decommissioned" ? "decommissioned" : "failed";
  }
  const running = container.running ?? container.state === "running";
  return running ? "running" : "stopped";
}

async function recordMember(
  tx: StoreDb,
  instance: NodeInstance,
  container: ReportedContainer,
  input: { readonly node_id: string; readonly now: Date },
): Promise<void> {
  if (container.container_id === undefined) return;
  const existing = await tx
    .selectFrom("app_instance_members")
    .select(["host_port", "endpoint_url"])
    .where("instance_id", "=", instance.id)
    .where("name", "=", container.name)
    .executeTakeFirst();
  await upsertInstanceMember(tx, {
    instance_id: instance.id,
    name: container.name,
    node_id: input.node_id,
    container_id: container.container_id,
    host_port: existing?.host_port ?? container.ports?.[0]?.host_port ?? null,
    endpoint_url: existing?.endpoint_url ?? null,
    now: input.now,
  });
}
