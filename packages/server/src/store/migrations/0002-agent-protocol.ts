import type { SqlMigration } from "./sql-migration.js";

/**
 * The node-agent protocol: per-task pull credentials for the registry token service, and the
 * task-kind list as a CHECK (now with `workload.oci_logs`). A pull credential lives exactly as
 * long as its task's lease: minted when the task is leased, extended with it, deleted when the
 * task completes. Only the SHA-256 of its secret is kept.
 */
export const agentProtocolMigration: SqlMigration = {
  name: "0002_agent_protocol",
  statements: [
    `ALTER TABLE node_tasks ADD CONSTRAINT node_tasks_kind CHECK (kind IN (
      'workload.oci_runtime_status',
      'workload.oci_launch',
      'workload.oci_control',
      'workload.oci_remove',
      'workload.oci_logs',
      'workload.compose_launch',
      'workload.compose_control',
      'workload.compose_remove'
    ))`,
    // `repository` is the name inside `registry` (no host, tag or digest): the one repository the
    // credential may pull.
    `CREATE TABLE task_pull_credentials (
      task_id text PRIMARY KEY REFERENCES node_tasks (id) ON DELETE CASCADE,
      username text NOT NULL UNIQUE,
      secret_hash text NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
      registry text NOT NULL,
      repository text NOT NULL CHECK (repository ~ '^[a-z0-9]+([._/-]+[a-z0-9]+)*$'),
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    "CREATE INDEX nodes_heartbeat ON nodes (state, last_heartbeat_at)",
  ],
};
