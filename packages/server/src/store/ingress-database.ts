/**
 * The schema managed ingress adds (migration 0003) on top of {@link AgentDatabase}: route intents
 * with their edge outbox, sign-in tickets, app sessions and endpoint API keys. Kept beside
 * `database.ts`, like the agent protocol's tables, so the ingress store code stays in files of
 * its own.
 */
import type { ColumnType, Kysely } from "kysely";
import type { AgentDatabase } from "./agent-database.js";
import type { StoreDb } from "./database.js";
import type { JsonObject } from "./types.js";

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type UpdatedAt = ColumnType<Date, Date | undefined, Date>;
type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;
type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;
type Counter = ColumnType<number, number | undefined, number>;

/** Where a route row stands. */
export type RouteRowState = "active" | "withdrawn" | "unexposed";

interface RouteIntentsTable {
  route_id: string;
  instance_id: string;
  project_id: string;
  endpoint_name: string;
  state: RouteRowState;
  public_host: Nullable<string>;
  intent: NullableJson<JsonObject>;
  reason_code: Nullable<string>;
  reason_message: Nullable<string>;
  edge_version: Counter;
  edge_applied_version: Counter;
  edge_attempts: Counter;
  edge_error: Nullable<string>;
  edge_retry_at: NullableTimestamp;
  edge_applied_at: NullableTimestamp;
  created_at: CreatedAt;
  updated_at: UpdatedAt;
}

interface IngressTicketsTable {
  ticket_hash: string;
  route_id: string;
  user_id: string;
  parent_token_id: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

interface IngressSessionsTable {
  id: string;
  token_hash: string;
  route_id: string;
  user_id: string;
  parent_token_id: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

interface EndpointApiKeysTable {
  id: string;
  instance_id: string;
  project_id: string;
  endpoint_name: string;
  name: string;
  user_id: Nullable<string>;
  service_account_id: Nullable<string>;
  key_hash: string;
  fingerprint: string;
  created_at: CreatedAt;
  rotated_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

/** {@link AgentDatabase} with the managed-ingress tables. */
export type IngressDatabase = AgentDatabase & {
  route_intents: RouteIntentsTable;
  ingress_tickets: IngressTicketsTable;
  ingress_sessions: IngressSessionsTable;
  endpoint_api_keys: EndpointApiKeysTable;
};

/** The same handle (or transaction), typed with the ingress tables. */
export function toIngressDb(db: StoreDb): Kysely<IngressDatabase> {
  return db as unknown as Kysely<IngressDatabase>;
}
