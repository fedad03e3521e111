import type { SqlMigration } from "./sql-migration.js";

/**
 * The initial schema. Enumerations are spelled out as CHECK lists rather than derived from the
 * TypeScript constants: a migration is frozen once shipped, and widening a list is a new migration.
 * Ids are random UUIDs kept as text, so a malformed id in a request simply matches nothing.
 */
export const initialMigration: SqlMigration = {
  name: "0001_initial",
  statements: [
    `CREATE TABLE organizations (
      id text PRIMARY KEY,
      slug text NOT NULL UNIQUE,
      display_name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE projects (
      id text PRIMARY KEY,
      org_id text NOT NULL REFERENCES organizations (id),
      slug text NOT NULL,
      display_name text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (org_id, slug)
    )`,
    `CREATE TABLE users (
      id text PRIMARY KEY,
      email text NOT NULL UNIQUE,
      display_name text NOT NULL,
      platform_role text CHECK (platform_role IN ('platform_operator')),
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    // An organization role has no project; a project role always has one.
    `CREATE TABLE memberships (
      id text PRIMARY KEY,
      user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      org_id text NOT NULL REFERENCES organizations (id),
      project_id text REFERENCES projects (id) ON DELETE CASCADE,
      role text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK (
        (project_id IS NULL AND role = 'org_admin')
        OR (project_id IS NOT NULL AND role IN ('project_admin', 'project_member', 'project_viewer'))
      )
    )`,
    // Two partial indexes instead of NULLS NOT DISTINCT, which PostgreSQL 14 and older lack.
    "CREATE UNIQUE INDEX memberships_org_role ON memberships (user_id, org_id) WHERE project_id IS NULL",
    "CREATE UNIQUE INDEX memberships_project_role ON memberships (user_id, project_id) WHERE project_id IS NOT NULL",
    "CREATE INDEX memberships_project ON memberships (project_id)",
    `CREATE TABLE service_accounts (
      id text PRIMARY KEY,
      project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
      name text NOT NULL,
      description text NOT NULL DEFAULT '',
      role text NOT NULL CHECK (role IN ('project_admin', 'project_member', 'project_viewer')),
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (project_id, name)
    )`,
    // Only the SHA-256 of a token is kept; the CHECK refuses anything that is not a hex digest.
    `CREATE TABLE api_tokens (
      id text PRIMARY KEY,
      user_id text REFERENCES users (id) ON DELETE CASCADE,
      service_account_id text REFERENCES service_accounts (id) ON DELETE CASCADE,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
      fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{12}$'),
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz,
      revoked_at timestamptz,
      last_used_at timestamptz,
      CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
    )`,
    "CREATE INDEX api_tokens_user ON api_tokens (user_id)",
    "CREATE INDEX api_tokens_service_account ON api_tokens (service_account_id)",
    `CREATE TABLE app_catalog (
      id text PRIMARY KEY,
      slug text NOT NULL UNIQUE,
      display_name text NOT NULL,
      description text NOT NULL,
      support_level text NOT NULL
        CHECK (support_level IN ('platform_curated', 'partner_supported', 'community', 'experimental')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE app_versions (
      id text PRIMARY KEY,
      app_id text NOT NULL REFERENCES app_catalog (id),
      version text NOT NULL,
      manifest jsonb NOT NULL,
      profile jsonb NOT NULL,
      gate_report jsonb NOT NULL,
      published boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (app_id, version)
    )`,
    `CREATE TABLE project_entitlements (
      project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
      app_slug text NOT NULL REFERENCES app_catalog (slug),
      enabled boolean NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (project_id, app_slug)
    )`,
    // `repository` is `registry/name` with no tag or digest: a `:` is allowed only as a port.
    `CREATE TABLE app_artifacts (
      id text PRIMARY KEY,
      app_version_id text NOT NULL REFERENCES app_versions (id),
      artifact_name text NOT NULL,
      repository text NOT NULL CHECK (repository !~ '[@:]' OR repository ~ '^[^/@]+:[0-9]+/[^@:]+$'),
      digest text NOT NULL CHECK (digest ~ '^sha256:[0-9a-f]{64}$'),
      media_type text NOT NULL CHECK (media_type IN (
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json'
      )),
      platform_os text,
      platform_architecture text CHECK (platform_architecture IN ('amd64', 'arm64')),
      accelerator_vendor text CHECK (accelerator_vendor IN ('none', 'nvidia', 'amd', 'intel')),
      accelerator_family text,
      accelerator_sku text,
      state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'verified', 'published', 'promoted', 'retired')),
      verified_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (repository, digest),
      CHECK ((platform_os IS NULL) = (platform_architecture IS NULL)),
      CHECK (state = 'pending' OR state = 'retired' OR verified_at IS NOT NULL)
    )`,
    "CREATE INDEX app_artifacts_version ON app_artifacts (app_version_id)",
    `CREATE TABLE nodes (
      id text PRIMARY KEY,
      name text NOT NULL UNIQUE,
      state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'online', 'offline', 'draining', 'retired')),
      inventory jsonb NOT NULL DEFAULT '{}',
      credential_hash text UNIQUE CHECK (credential_hash ~ '^[0-9a-f]{64}$'),
      last_heartbeat_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE node_bootstrap_tokens (
      id text PRIMARY KEY,
      node_id text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    // UNIQUE (id, project_id) lets instances reference an allocation of their own project only.
    `CREATE TABLE allocations (
      id text PRIMARY KEY,
      project_id text NOT NULL REFERENCES projects (id),
      node_id text NOT NULL REFERENCES nodes (id),
      state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'releasing', 'released')),
      accelerator_vendor text NOT NULL CHECK (accelerator_vendor IN ('none', 'nvidia', 'amd', 'intel')),
      accelerator_family text,
      accelerator_sku text,
      cpu_architecture text NOT NULL CHECK (cpu_architecture IN ('amd64', 'arm64')),
      gpu_indices integer[] NOT NULL DEFAULT '{}',
      cpu_cores integer NOT NULL CHECK (cpu_cores > 0),
      memory_gib integer NOT NULL CHECK (memory_gib > 0),
      storage_modes text[] NOT NULL DEFAULT '{}'
        CHECK (storage_modes <@ ARRAY['scratch', 'project_storage']::text[]),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      released_at timestamptz,
      UNIQUE (id, project_id),
      CHECK (0 <= ALL (gpu_indices)),
      CHECK ((accelerator_vendor = 'none') = (cardinality(gpu_indices) = 0))
    )`,
    "CREATE INDEX allocations_project ON allocations (project_id, created_at)",
    "CREATE INDEX allocations_node ON allocations (node_id)",
    `CREATE TABLE app_instances (
      id text PRIMARY KEY,
      project_id text NOT NULL REFERENCES projects (id),
      app_version_id text NOT NULL REFERENCES app_versions (id),
      target_allocation_id text NOT NULL,
      display_name text NOT NULL,
      engine text NOT NULL CHECK (engine IN ('node_agent', 'docker_compose', 'kubernetes', 'helm', 'dstack')),
      desired_state text NOT NULL CHECK (desired_state IN ('running', 'stopped', 'decommissioned')),
      state text NOT NULL CHECK (state IN (
        'pending', 'deploying', 'running', 'failed', 'stopping', 'stopped', 'starting',
        'restarting', 'decommissioning', 'decommissioned', 'unknown'
      )),
      generation integer NOT NULL DEFAULT 1 CHECK (generation > 0),
      resolved_values jsonb NOT NULL,
      artifact_id text NOT NULL REFERENCES app_artifacts (id),
      resolved_digest text NOT NULL CHECK (resolved_digest ~ '^sha256:[0-9a-f]{64}$'),
      gpu_indices integer[] NOT NULL DEFAULT '{}',
      created_by text NOT NULL,
      correlation_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      state_changed_at timestamptz NOT NULL DEFAULT now(),
      FOREIGN KEY (target_allocation_id, project_id) REFERENCES allocations (id, project_id)
    )`,
    "CREATE INDEX app_instances_project ON app_instances (project_id, created_at, id)",
    "CREATE INDEX app_instances_allocation ON app_instances (target_allocation_id)",
    `CREATE TABLE app_instance_members (
      id text PRIMARY KEY,
      instance_id text NOT NULL REFERENCES app_instances (id) ON DELETE CASCADE,
      name text NOT NULL,
      node_id text NOT NULL REFERENCES nodes (id),
      container_id text,
      host_port integer CHECK (host_port BETWEEN 1 AND 65535),
      endpoint_url text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (instance_id, name)
    )`,
    // The outbox. `seq` orders delivery; the partial index is what a lease scans.
    `CREATE TABLE node_tasks (
      id text PRIMARY KEY,
      seq bigserial NOT NULL UNIQUE,
      node_id text NOT NULL REFERENCES nodes (id),
      instance_id text REFERENCES app_instances (id) ON DELETE CASCADE,
      kind text NOT NULL,
      spec jsonb NOT NULL,
      state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'succeeded', 'failed')),
      lease_owner text,
      lease_expires_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      result jsonb,
      correlation_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CHECK ((state = 'leased') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
    )`,
    "CREATE INDEX node_tasks_pending ON node_tasks (node_id, seq) WHERE state IN ('queued', 'leased')",
    "CREATE INDEX node_tasks_instance ON node_tasks (instance_id, seq)",
    `CREATE TABLE events (
      id bigserial PRIMARY KEY,
      project_id text NOT NULL REFERENCES projects (id),
      instance_id text REFERENCES app_instances (id) ON DELETE CASCADE,
      type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*$'),
      message text NOT NULL,
      data jsonb NOT NULL DEFAULT '{}',
      correlation_id text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    "CREATE INDEX events_instance ON events (instance_id, id)",
    "CREATE INDEX events_project ON events (project_id, id)",
    `CREATE TABLE audit_log (
      id bigserial PRIMARY KEY,
      actor text NOT NULL,
      action text NOT NULL,
      target text NOT NULL,
      project_id text REFERENCES projects (id),
      correlation_id text NOT NULL,
      data jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    "CREATE INDEX audit_log_project ON audit_log (project_id, id)",
    `CREATE TABLE idempotency_keys (
      project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
      key text NOT NULL,
      request_hash text NOT NULL,
      response_status integer,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (project_id, key)
    )`,
  ],
};
