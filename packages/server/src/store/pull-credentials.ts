/**
 * Per-task registry pull credentials. When an agent leases a `workload.oci_launch` task it gets a
 * username and a one-time secret that the registry token service (`GET /api/v1/registry/token`)
 * accepts as HTTP Basic auth for exactly one repository, `pull` only. The secret is returned once,
 * in the lease; only its SHA-256 is stored; it expires with the lease, moves with an extension,
 * is replaced when the task is leased again and is deleted when the task completes.
 */
import { randomBytes } from "node:crypto";
import { toAgentDb } from "./agent-database.js";
import type { StoreDb } from "./database.js";
import { hashSecret } from "./mint-secret.js";

/** The prefix of a pull secret, so scanners and redaction recognise one. */
export const PULL_SECRET_PREFIX = "gpuaas_pull_";
/** A pull secret: the prefix and 32 random bytes, base64url. */
export const PULL_SECRET_PATTERN = /gpuaas_pull_[A-Za-z0-9_-]{43}/g;
/** The username of a task's pull credential: `task-<task id>`. */
const USERNAME = /^task-[A-Za-z0-9-]{1,64}$/;

/** A pull credential as the lease hands it to the agent; the password is never shown again. */
export interface PullCredential {
  /** Registry host and port the credential is for, e.g. `127.0.0.1:5055`. */
  readonly registry: string;
  readonly username: string;
  readonly password: string;
  readonly expires_at: string;
}

/** What a valid pull credential lets its holder do: pull one repository, until `expires_at`. */
export interface PullGrant {
  readonly task_id: string;
  readonly node_id: string;
  readonly username: string;
  readonly registry: string;
  /** The repository name inside the registry, e.g. `gpuaas/jupyterlab-cpu`. */
  readonly repository: string;
  readonly correlation_id: string;
  readonly expires_at: string;
}

/**
 * Mints the pull credential of a leased task, replacing any earlier one (a redelivered task gets
 * a fresh secret; the old one stops working at once). Call it in the leasing transaction.
 */
export async function mintPullCredential(
  db: StoreDb,
  input: {
    readonly task_id: string;
    readonly registry: string;
    readonly repository: string;
    readonly expires_at: Date;
  },
): Promise<PullCredential> {
  const password = PULL_SECRET_PREFIX + randomBytes(32).toString("base64url");
  const username = `task-${input.task_id}`;
  const fields = {
    username,
    secret_hash: hashSecret(password),
    registry: input.registry,
    repository: input.repository,
    expires_at: input.expires_at,
  };
  await toAgentDb(db)
    .insertInto("task_pull_credentials")
    .values({ task_id: input.task_id, ...fields })
    .onConflict((oc) => oc.column("task_id").doUpdateSet(fields))
    .execute();
  return {
    registry: input.registry,
    username,
    password,
    expires_at: input.expires_at.toISOString(),
  };
}

/** Moves a task's credential expiry with its lease; a task without one is left alone. */
export async function extendPullCredential(
  db: StoreDb,
  input: { readonly task_id: string; readonly expires_at: Date },
): Promise<void> {
  await toAgentDb(db)
    .updateTable("task_pull_credentials")
    .set({ expires_at: input.expires_at })
    .where("task_id", "=", input.task_id)
    .execute();
}

/** Deletes a task's credential (the task completed, or was withdrawn). */
export async function revokePullCredential(db: StoreDb, taskId: string): Promise<void> {
  await toAgentDb(db).deleteFrom("task_pull_credentials").where("task_id", "=", taskId).execute();
}

/**
 * The grant of a username and password, or undefined when they are unknown, wrong or expired,
 * or when the task is no longer leased (completed, or its lease ran out).
 */
export async function findPullGrant(
  db: StoreDb,
  input: { readonly username: string; readonly password: string; readonly now: Date },
): Promise<PullGrant | undefined> {
  if (!USERNAME.test(input.username) || !input.password.startsWith(PULL_SECRET_PREFIX)) {
    return undefined;
  }
  const row = await toAgentDb(db)
    .selectFrom("task_pull_credentials")
    .innerJoin("node_tasks", "node_tasks.id", "task_pull_credentials.task_id")
    .select([
      "task_pull_credentials.task_id",
      "task_pull_credentials.username",
      "task_pull_credentials.registry",
      "task_pull_credentials.repository",
      "task_pull_credentials.expires_at",
      "node_tasks.node_id",
      "node_tasks.correlation_id",
    ])
    .where("task_pull_credentials.username", "=", input.username)
    .where("task_pull_credentials.secret_hash", "=", hashSecret(input.password))
    .where("task_pull_credentials.expires_at", ">", input.now)
    .where("node_tasks.state", "=", "leased")
    .where("node_tasks.lease_expires_at", ">", input.now)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    task_id: row.task_id,
    node_id: row.node_id,
    username: row.username,
    registry: row.registry,
    repository: row.repository,
    correlation_id: row.correlation_id,
    expires_at: row.expires_at.toISOString(),
  };
}
