import { initialMigration } from "./0001-initial.js";
import { agentProtocolMigration } from "./0002-agent-protocol.js";
import { managedIngressMigration } from "./0003-managed-ingress.js";
import type { SqlMigration } from "./sql-migration.js";

/** Every migration, in application order. Append only; a shipped migration is never edited. */
export const MIGRATIONS: readonly SqlMigration[] = [
  initialMigration,
  agentProtocolMigration,
  managedIngressMigration,
];
