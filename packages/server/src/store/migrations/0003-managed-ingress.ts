import type { SqlMigration } from "./sql-migration.js";

/**
 * Managed ingress: one route intent per endpoint of an instance, with the edge outbox in the same
 * row; the one-time sign-in tickets and the host-only app sessions of browser routes; and
 * per-endpoint API keys of API routes. Only SHA-256 digests of secrets are kept.
 *
 * A route row is `active` while its instance runs, `withdrawn` after, and `unexposed` (with the
 * reason) when the endpoint gets no route. `edge_version` counts changes the edge must see;
 * `edge_applied_version` the last one it saw: the row is edge work while they differ.
 */
export const managedIngressMigration: SqlMigration = {
  name: "0003_managed_ingress",
  statements: [
    `CREATE TABLE route_intents (
      route_id text PRIMARY KEY,
      instance_id text NOT NULL REFERENCES app_instances (id) ON DELETE CASCADE,
      project_id text NOT NULL REFERENCES projects (id),
      endpoint_name text NOT NULL,
      state text NOT NULL CHECK (state IN ('active', 'withdrawn', 'unexposed')),
      public_host text,
      intent jsonb,
      reason_code text,
      reason_message text,
      edge_version integer NOT NULL DEFAULT 0 CHECK (edge_version >= 0),
      edge_applied_version integer NOT NULL DEFAULT 0 CHECK (edge_applied_version >= 0),
      edge_attempts integer NOT NULL DEFAULT 0,
      edge_error text,
      edge_retry_at timestamptz,
      edge_applied_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (instance_id, endpoint_name),
      CHECK (state <> 'active' OR (intent IS NOT NULL AND public_host IS NOT NULL)),
      CHECK ((state = 'unexposed') = (reason_code IS NOT NULL))
    )`,
    // Two running instances never share an origin.
    "CREATE UNIQUE INDEX route_intents_active_host ON route_intents (public_host) WHERE state = 'active'",
    "CREATE INDEX route_intents_project ON route_intents (project_id, route_id)",
    "CREATE INDEX route_intents_edge_work ON route_intents (edge_retry_at) WHERE edge_version <> edge_applied_version",
    // `parent_token_id` is the console session (or token) that signed the user in: revoking it
    // ends every app session it opened.
    `CREATE TABLE ingress_tickets (
      ticket_hash text PRIMARY KEY CHECK (ticket_hash ~ '^[0-9a-f]{64}$'),
      route_id text NOT NULL REFERENCES route_intents (route_id) ON DELETE CASCADE,
      user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      parent_token_id text NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE ingress_sessions (
      id text PRIMARY KEY,
      token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
      route_id text NOT NULL REFERENCES route_intents (route_id) ON DELETE CASCADE,
      user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      parent_token_id text NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE endpoint_api_keys (
      id text PRIMARY KEY,
      instance_id text NOT NULL REFERENCES app_instances (id) ON DELETE CASCADE,
      project_id text NOT NULL REFERENCES projects (id),
      endpoint_name text NOT NULL,
      name text NOT NULL,
      user_id text REFERENCES users (id) ON DELETE CASCADE,
      service_account_id text REFERENCES service_accounts (id) ON DELETE CASCADE,
      key_hash text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
      fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{12}$'),
      created_at timestamptz NOT NULL DEFAULT now(),
      rotated_at timestamptz,
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
    )`,
    "CREATE INDEX endpoint_api_keys_instance ON endpoint_api_keys (instance_id, endpoint_name)",
  ],
};
