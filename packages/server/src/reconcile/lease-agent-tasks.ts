/**
 * Handing tasks to a node's agent. One transaction leases the tasks (the store's SKIP LOCKED
 * lease), mints a pull credential for each `workload.oci_launch` (for the launch's own repository
 * only, expiring with the lease) and moves a launched instance `pending → deploying`, so a
 * lease is never handed out without its credential or its state change.
 */
import type { InstanceState } from "@gpuaas/contract";
import {
  appendEvent,
  inTransaction,
  leaseTasks,
  type StoreDb,
  transitionInstance,
} from "../store/index.js";
import { getInstanceNode } from "../store/node-instances.js";
import { mintPullCredential, type PullCredential } from "../store/pull-credentials.js";
import type { JsonObject, NodeTask } from "../store/types.js";

/** One leased task as the agent receives it. */
export interface AgentLease {
  readonly task_id: string;
  readonly kind: string;
  readonly instance_id: string | null;
  readonly correlation_id: string;
  /** 1 on first delivery; above 1 the task was handed out before and its lease ran out. */
  readonly attempt: number;
  readonly lease_expires_at: string;
  /** The rendered task spec (`OciLaunchSpec`, `OciControlSpec`, …); never holds a credential. */
  readonly spec: JsonObject;
  /** Only on `workload.oci_launch`: pull access to the spec's repository until the lease ends. */
  readonly pull_credential?: PullCredential;
}

/** The lease owner of a node's agent in the outbox. */
export function toLeaseOwner(nodeId: string): string {
  return `node:${nodeId}`;
}

/** Where a launch spec's image lives, when it names one in the platform registry. */
function toPullTarget(
  spec: JsonObject,
  registryHost: string,
): { readonly registry: string; readonly repository: string } | undefined {
  const container = spec.container;
  if (typeof container !== "object" || container === null || Array.isArray(container)) {
    return undefined;
  }
  const { registry, repository } = container;
  if (typeof registry !== "string" || typeof repository !== "string") return undefined;
  // Credentials are minted for the platform registry only (preflight refuses any other).
  return registry === registryHost ? { registry, repository } : undefined;
}

/**
 * Leases up to `max` of the node's tasks until `now + lease_ms` and prepares each for the agent.
 * Returns nothing (and changes nothing) when no task is due.
 */
export async function leaseAgentTasks(
  db: StoreDb,
  input: {
    readonly node_id: string;
    readonly max: number;
    readonly lease_ms: number;
    readonly registry_host: string;
    readonly now: Date;
  },
): Promise<AgentLease[]> {
  return inTransaction(db, async (tx) => {
    const tasks = await leaseTasks(tx, {
      node_id: input.node_id,
      owner: toLeaseOwner(input.node_id),
      max: input.max,
      lease_ms: input.lease_ms,
      now: input.now,
    });
    const leases: AgentLease[] = [];
    for (const task of tasks) leases.push(await prepareLease(tx, task, input));
    return leases;
  });
}

async function prepareLease(
  tx: StoreDb,
  task: NodeTask,
  input: { readonly node_id: string; readonly registry_host: string; readonly now: Date },
): Promise<AgentLease> {
  const expires = new Date(task.lease_expires_at ?? input.now.toISOString());
  const lease: AgentLease = {
    task_id: task.id,
    kind: task.kind,
    instance_id: task.instance_id,
    correlation_id: task.correlation_id,
    attempt: task.attempts,
    lease_expires_at: expires.toISOString(),
    spec: task.spec,
  };
  const instance =
    task.instance_id === null ? undefined : await getInstanceNode(tx, task.instance_id);
  if (instance !== undefined && task.attempts > 1) {
    await appendEvent(tx, {
      project_id: instance.project_id,
      instance_id: instance.id,
      type: "instance.task_redelivered",
      message: `the lease of ${task.kind} ran out before a result came; handed to node ${input.node_id} again (attempt ${task.attempts})`,
      data: { task_id: task.id, kind: task.kind, attempt: task.attempts, node_id: input.node_id },
      correlation_id: task.correlation_id,
    });
  }
  if (task.kind !== "workload.oci_launch") return lease;
  if (instance?.state === ("pending" satisfies InstanceState)) {
    await transitionInstance(tx, {
      id: instance.id,
      from: "pending",
      to: "deploying",
      correlation_id: task.correlation_id,
      message: `the agent of node ${input.node_id} took the launch (attempt ${task.attempts})`,
      data: { task_id: task.id, attempt: task.attempts, node_id: input.node_id },
      now: input.now,
    });
  }
  const target = toPullTarget(task.spec, input.registry_host);
  if (target === undefined) return lease;
  const credential = await mintPullCredential(tx, {
    task_id: task.id,
    registry: target.registry,
    repository: target.repository,
    expires_at: expires,
  });
  return { ...lease, pull_credential: credential };
}
