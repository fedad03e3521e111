/**
 * `gpuaas up` runs a node agent for its own host: the host is a node named after it, holding one
 * allocation in the default project that matches the machine, so a fresh install can launch on
 * the machine it runs on. Restarting finds both again instead of adding new ones.
 */
import { randomUUID } from "node:crypto";
import type { AcceleratorVendor, CpuArchitecture, StorageMode } from "@gpuaas/contract";
import {
  appendAudit,
  createAllocation,
  createBootstrapToken,
  createNode,
  inTransaction,
  listAllocations,
  listNodes,
  type Store,
} from "../store/index.js";
import type { Allocation, Node } from "../store/types.js";

/** What the local host offers, as `gpuaas up` measured it. */
export interface LocalHostShape {
  /** The node name: the host name, lower-cased to the node name rules by {@link toNodeName}. */
  readonly name: string;
  readonly cpu_architecture: CpuArchitecture;
  readonly accelerator_vendor: AcceleratorVendor;
  /** Host GPU indices; empty exactly when the vendor is `none`. */
  readonly gpu_indices: readonly number[];
  readonly cpu_cores: number;
  readonly memory_gib: number;
  readonly storage_modes: readonly StorageMode[];
}

/** The local node and its allocation, and whether this run made them. */
export interface LocalNode {
  readonly node: Node;
  readonly allocation: Allocation;
  readonly created_node: boolean;
  readonly created_allocation: boolean;
}

const ACTOR = "system:gpuaas-up";

/**
 * A node name for a host name: lower case, characters other than letters, digits, `.` and `-`
 * replaced by `-`, at most 63 characters, never empty.
 *
 * @example
 * toNodeName("GPU_Host.example") // "gpu-host.example"
 */
export function toNodeName(hostname: string): string {
  const name = hostname
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .slice(0, 63)
    .replace(/^[.-]+|[.-]+$/g, "");
  return name.length > 0 ? name : "localhost";
}

/**
 * Finds or makes the local host's node (by name) and its active allocation in the project. A
 * node that exists is reused whatever its state, except `retired` (an error: an operator retired
 * it on purpose); an active allocation of the project on it is reused as it is.
 */
export async function ensureLocalNode(
  store: Store,
  input: { readonly project_id: string; readonly host: LocalHostShape },
): Promise<LocalNode> {
  const { host } = input;
  return inTransaction(store.db, async (tx) => {
    const correlationId = randomUUID();
    let node = (await listNodes(tx)).find((candidate) => candidate.name === host.name);
    const createdNode = node === undefined;
    if (node === undefined) {
      node = await createNode(tx, { name: host.name, inventory: { source: "gpuaas up" } });
      await appendAudit(tx, {
        actor: ACTOR,
        action: "node.registered",
        target: `node:${node.id}`,
        correlation_id: correlationId,
        data: { name: node.name, local: true },
      });
    }
    if (node.state === "retired") {
      throw new Error(
        `node ${node.name} (${node.id}) is retired; the local agent cannot join it (start with --no-agent, or give the host another name)`,
      );
    }
    const nodeId = node.id;
    let allocation = (await listAllocations(tx, { project_id: input.project_id, node_id: nodeId }))
      .filter((candidate) => candidate.state === "active")
      .at(0);
    const createdAllocation = allocation === undefined;
    if (allocation === undefined) {
      allocation = await createAllocation(tx, {
        project_id: input.project_id,
        node_id: nodeId,
        accelerator: { vendor: host.accelerator_vendor },
        cpu_architecture: host.cpu_architecture,
        gpu_indices: host.accelerator_vendor === "none" ? [] : host.gpu_indices,
        cpu_cores: host.cpu_cores,
        memory_gib: host.memory_gib,
        storage_modes: host.storage_modes,
      });
      await appendAudit(tx, {
        actor: ACTOR,
        action: "allocation.created",
        target: `allocation:${allocation.id}`,
        project_id: input.project_id,
        correlation_id: correlationId,
        data: { node_id: nodeId, local: true },
      });
    }
    return {
      node,
      allocation,
      created_node: createdNode,
      created_allocation: createdAllocation,
    };
  });
}

/**
 * Mints a one-time bootstrap token for the local node's in-process agent; it is handed over in
 * memory, never printed or written anywhere.
 */
export async function mintLocalBootstrapToken(
  store: Store,
  nodeId: string,
  ttlMs = 10 * 60_000,
): Promise<string> {
  const created = await createBootstrapToken(store.db, { node_id: nodeId, ttl_ms: ttlMs });
  await appendAudit(store.db, {
    actor: ACTOR,
    action: "node.bootstrap_token_created",
    target: `node:${nodeId}`,
    correlation_id: randomUUID(),
    data: { token_id: created.id, expires_at: created.expires_at, local: true },
  });
  return created.plaintext;
}
