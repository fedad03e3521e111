/**
 * The lost-agent sweep. An agent that stops heartbeating may have lost its host, its network or
 * just itself; the control plane cannot tell, so it says so: the node goes `offline` and every
 * instance that was doing or running something there goes `unknown`, each with an event (a
 * draining node stays draining, the operator's intent, but its instances go `unknown` too). When
 * the agent returns, its heartbeat brings the node back `online`, and its task results and its
 * container report (`POST /api/v1/agent/inventory/containers`) settle the instances again.
 */

import { randomUUID } from "node:crypto";
import type { InstanceState } from "@gpuaas/contract";
import {
  appendAudit,
  canTransition,
  INSTANCE_TRANSITIONS,
  inTransaction,
  isStoreError,
  type StoreDb,
  transitionInstance,
} from "../store/index.js";
import {
  listLostDrainingNodes,
  listNodeInstances,
  markLostNodesOffline,
} from "../store/node-instances.js";

/** Instance states a lost agent leaves in doubt: every state that may move to `unknown`. */
export const STATES_LOST_WITH_AGENT: readonly InstanceState[] = (
  Object.keys(INSTANCE_TRANSITIONS) as InstanceState[]
).filter((state) => canTransition(INSTANCE_TRANSITIONS, state, "unknown"));

/** What one sweep changed. */
export interface SweepReport {
  readonly correlation_id: string;
  /** Nodes moved `online → offline`. */
  readonly nodes: readonly string[];
  /** Draining nodes without heartbeats whose instances this sweep marked unknown (they stay draining). */
  readonly draining: readonly string[];
  readonly instances: readonly { readonly id: string; readonly from: InstanceState }[];
}

/**
 * Marks nodes whose last heartbeat is older than `offline_after_ms` (at `now`) offline and their
 * busy instances unknown, in one transaction. Safe to run from every replica at once.
 */
export async function sweepLostNodes(
  db: StoreDb,
  input: {
    readonly now: Date;
    readonly offline_after_ms: number;
    readonly correlation_id?: string;
  },
): Promise<SweepReport> {
  const correlationId = input.correlation_id ?? `sweep-${randomUUID()}`;
  const cutoff = new Date(input.now.getTime() - input.offline_after_ms);
  return inTransaction(db, async (tx) => {
    const nodes = await markLostNodesOffline(tx, { cutoff, now: input.now });
    const instances: { id: string; from: InstanceState }[] = [];
    const loseInstances = async (nodeId: string): Promise<number> => {
      const busy = await listNodeInstances(tx, { node_id: nodeId, states: STATES_LOST_WITH_AGENT });
      let moved = 0;
      for (const instance of busy) {
        const done = await moveUnlessChanged(() =>
          transitionInstance(tx, {
            id: instance.id,
            from: instance.state,
            to: "unknown",
            correlation_id: correlationId,
            message: `node ${nodeId} has sent no heartbeat for over ${Math.round(input.offline_after_ms / 1000)} s; the state of the instance is unknown until its agent reports again`,
            data: { reason: "node_lost", node_id: nodeId },
            now: input.now,
          }),
        );
        if (done) {
          instances.push({ id: instance.id, from: instance.state });
          moved += 1;
        }
      }
      return moved;
    };
    for (const nodeId of nodes) {
      await appendAudit(tx, {
        actor: "system",
        action: "node.offline",
        target: `node:${nodeId}`,
        correlation_id: correlationId,
        data: { reason: "heartbeat_missed", offline_after_ms: input.offline_after_ms },
      });
      await loseInstances(nodeId);
    }
    // A draining node stays draining; only a sweep that changed something leaves an audit entry,
    // so a silent draining node does not add one every interval.
    const draining: string[] = [];
    for (const nodeId of await listLostDrainingNodes(tx, { cutoff })) {
      if ((await loseInstances(nodeId)) === 0) continue;
      draining.push(nodeId);
      await appendAudit(tx, {
        actor: "system",
        action: "node.lost",
        target: `node:${nodeId}`,
        correlation_id: correlationId,
        data: {
          reason: "heartbeat_missed",
          state: "draining",
          offline_after_ms: input.offline_after_ms,
        },
      });
    }
    return { correlation_id: correlationId, nodes, draining, instances };
  });
}

/**
 * Runs a guarded transition; false when the instance moved on in the meantime (a result or an
 * action got there first), which is not an error for a sweep or a report.
 */
export async function moveUnlessChanged(move: () => Promise<unknown>): Promise<boolean> {
  try {
    await move();
    return true;
  } catch (error) {
    if (isStoreError(error, "instance.state_conflict")) return false;
    if (isStoreError(error, "instance.illegal_transition")) return false;
    throw error;
  }
}
