/**
 * The schema the node-agent protocol adds (migration 0002) on top of {@link Database}: the
 * per-task pull credentials, and `workload.oci_logs` among the task kinds. Kept beside
 * `database.ts` rather than in it so the protocol's store code stays in files of its own.
 */
import type { ColumnType, Kysely } from "kysely";
import type { Database, StoreDb } from "./database.js";
import { TASK_KINDS } from "./types.js";

/** Every task kind the outbox holds: the seed's catalogue and the logs request. */
export const AGENT_TASK_KINDS = [...TASK_KINDS, "workload.oci_logs"] as const;
/** A node-task kind, `workload.oci_logs` included. */
export type AgentTaskKind = (typeof AGENT_TASK_KINDS)[number];

interface TaskPullCredentialsTable {
  task_id: string;
  username: string;
  secret_hash: string;
  registry: string;
  repository: string;
  expires_at: ColumnType<Date, Date, Date>;
  created_at: ColumnType<Date, Date | undefined, never>;
}

/** {@link Database} with the protocol's table, and node tasks of any {@link AgentTaskKind}. */
export type AgentDatabase = Omit<Database, "node_tasks"> & {
  node_tasks: Omit<Database["node_tasks"], "kind"> & { kind: AgentTaskKind };
  task_pull_credentials: TaskPullCredentialsTable;
};

/** The same handle (or transaction), typed with the protocol's tables. */
export function toAgentDb(db: StoreDb): Kysely<AgentDatabase> {
  return db as unknown as Kysely<AgentDatabase>;
}
