/**
 * GPU hosts and how their agents join: an operator creates the node and a one-time bootstrap
 * token; the agent redeems it for a node credential (stored hashed) and then heartbeats.
 */
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { canTransition, NODE_TRANSITIONS } from "./lifecycles.js";
import { hashSecret, isSecretOfKind, mintSecret, newId } from "./mint-secret.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import { toNode } from "./to-api.js";
import type {
  CreatedBootstrapToken,
  JsonObject,
  Node,
  NodeEnrollment,
  NodeState,
} from "./types.js";

/** Registers a host by name, in state `pending` until its agent joins. */
export async function createNode(
  db: StoreDb,
  input: { readonly name: string; readonly inventory?: JsonObject },
): Promise<Node> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("nodes")
      .values({ id: newId(), name: input.name, inventory: JSON.stringify(input.inventory ?? {}) })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toNode(row);
}

/** The node with this id, or undefined. */
export async function getNode(db: StoreDb, id: string): Promise<Node | undefined> {
  const row = await db.selectFrom("nodes").selectAll().where("id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toNode(row);
}

/** Every node, by name. */
export async function listNodes(db: StoreDb): Promise<Node[]> {
  const rows = await db.selectFrom("nodes").selectAll().orderBy("name").execute();
  return rows.map(toNode);
}

/** Moves a node to another state; `node.illegal_transition` when its lifecycle forbids it. */
export async function setNodeState(
  db: StoreDb,
  input: { readonly id: string; readonly to: NodeState; readonly now?: Date },
): Promise<Node> {
  return inTransaction(db, async (tx) => {
    const current = await tx
      .selectFrom("nodes")
      .select("state")
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (current === undefined)
      throw new StoreError("store.not_found", `node ${input.id} not found`);
    if (current.state !== input.to && !canTransition(NODE_TRANSITIONS, current.state, input.to)) {
      throw new StoreError(
        "node.illegal_transition",
        `node ${input.id} cannot go from ${current.state} to ${input.to}`,
        { from: current.state, to: input.to, allowed: NODE_TRANSITIONS[current.state] },
      );
    }
    const row = await tx
      .updateTable("nodes")
      .set({ state: input.to, updated_at: input.now ?? new Date() })
      .where("id", "=", input.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toNode(row);
  });
}

/**
 * Records an agent heartbeat: the inventory it reports and the time. A `pending` or `offline`
 * node comes `online`; a draining or retired one keeps its state.
 */
export async function recordHeartbeat(
  db: StoreDb,
  input: { readonly node_id: string; readonly inventory: JsonObject; readonly now?: Date },
): Promise<Node> {
  const now = input.now ?? new Date();
  const row = await db
    .updateTable("nodes")
    .set((eb) => ({
      inventory: JSON.stringify(input.inventory),
      last_heartbeat_at: now,
      updated_at: now,
      state: eb
        .case()
        .when("state", "in", ["pending", "offline"])
        .then("online" as const)
        .else(eb.ref("state"))
        .end(),
    }))
    .where("id", "=", input.node_id)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw new StoreError("store.not_found", `node ${input.node_id} not found`);
  return toNode(row);
}

/** Mints a one-time bootstrap token for a node, valid for `ttl_ms`; the plaintext is returned once. */
export async function createBootstrapToken(
  db: StoreDb,
  input: { readonly node_id: string; readonly ttl_ms: number; readonly now?: Date },
): Promise<CreatedBootstrapToken> {
  const now = input.now ?? new Date();
  const secret = mintSecret("node_bootstrap");
  const row = await withStoreErrors(() =>
    db
      .insertInto("node_bootstrap_tokens")
      .values({
        id: newId(),
        node_id: input.node_id,
        token_hash: secret.hash,
        expires_at: new Date(now.getTime() + input.ttl_ms),
      })
      .returning(["id", "node_id", "expires_at"])
      .executeTakeFirstOrThrow(),
  );
  return {
    id: row.id,
    node_id: row.node_id,
    plaintext: secret.plaintext,
    expires_at: row.expires_at.toISOString(),
  };
}

/**
 * Redeems a bootstrap token: marks it used (once, atomically) and gives the node a fresh
 * credential, replacing any earlier one. Undefined when the token is unknown, used or expired.
 */
export async function redeemBootstrapToken(
  db: StoreDb,
  plaintext: string,
  now: Date = new Date(),
): Promise<NodeEnrollment | undefined> {
  if (!isSecretOfKind(plaintext, "node_bootstrap")) return undefined;
  return inTransaction(db, async (tx) => {
    const token = await tx
      .updateTable("node_bootstrap_tokens")
      .set({ used_at: now })
      .where("token_hash", "=", hashSecret(plaintext))
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returning("node_id")
      .executeTakeFirst();
    if (token === undefined) return undefined;
    const credential = mintSecret("node_credential");
    const row = await tx
      .updateTable("nodes")
      .set({ credential_hash: credential.hash, updated_at: now })
      .where("id", "=", token.node_id)
      .where("state", "!=", "retired")
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return { node: toNode(row), credential: credential.plaintext };
  });
}

/** The node a credential belongs to, or undefined (unknown credential or retired node). */
export async function authenticateNode(db: StoreDb, credential: string): Promise<Node | undefined> {
  if (!isSecretOfKind(credential, "node_credential")) return undefined;
  const row = await db
    .selectFrom("nodes")
    .selectAll()
    .where("credential_hash", "=", hashSecret(credential))
    .where("state", "!=", "retired")
    .executeTakeFirst();
  return row === undefined ? undefined : toNode(row);
}
