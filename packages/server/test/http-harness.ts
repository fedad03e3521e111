// Starts the control plane's HTTP API in process on a PGlite store opened from the migrated
// template, seeded with one organization, two projects and a caller for every role, so route
// tests can speak to it with app.inject (no socket) and real bearer tokens.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/http/build-app.js";
import { loadServerConfig, type ServerConfig } from "../src/http/server-config.js";
import {
  createMembership,
  createOrganization,
  createProject,
  createServiceAccount,
  createToken,
  createUser,
  type Store,
} from "../src/index.js";
import { BACKENDS, DATABASE_URL, loadPgliteTemplate, type TestBackend } from "./store-backends.js";

/** Every kind of caller the authorization matrix distinguishes. */
export const ROLES = [
  "operator",
  "org_admin",
  "project_admin",
  "project_member",
  "project_viewer",
  "service_account_member",
  "other_project_member",
  "no_role",
] as const;
export type Role = (typeof ROLES)[number];

/** A running API with seeded tenants and a token per role. */
export interface Harness {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly config: ServerConfig;
  readonly orgId: string;
  /** The project every role except `other_project_member` and `no_role` belongs to. */
  readonly projectId: string;
  /** A second project in the same organization. */
  readonly otherProjectId: string;
  readonly tokens: Readonly<Record<Role, string>>;
  /** Log lines the app wrote (JSON strings), for redaction checks. */
  readonly logs: string[];
  /** `{authorization: "Bearer …"}` for a role. */
  auth(role: Role): Record<string, string>;
  close(): Promise<void>;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  readonly config?: Readonly<Record<string, unknown>>;
  readonly now?: () => Date;
  readonly backend?: TestBackend;
  /** The built web console to serve at `/` (`packages/web/dist`). */
  readonly webConsoleDir?: string;
}

/** Starts an in-process API on a fresh store. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const backend = options.backend ?? BACKENDS[0];
  if (backend === undefined) throw new Error("no store backend");
  // The assertion key is made on first use: keep it out of the working directory.
  const keyDir = await mkdtemp(join(tmpdir(), "gpuaas-harness-"));
  const loaded = loadServerConfig({
    flags: {
      log_level: "info",
      ingress_signing_key_file: join(keyDir, "assertion-key.pem"),
      ...options.config,
    },
  });
  if (!loaded.ok) {
    await rm(keyDir, { recursive: true, force: true });
    throw new Error(JSON.stringify(loaded.problems));
  }
  const config = loaded.config;
  const opened = await backend.open();
  const store = opened.store;
  const logs: string[] = [];
  const app = await buildApp({
    store,
    config,
    ...(options.now !== undefined ? { now: options.now } : {}),
    ...(options.webConsoleDir !== undefined ? { webConsoleDir: options.webConsoleDir } : {}),
    logStream: { write: (line: string) => void logs.push(line) },
  });
  await app.ready();
  const db = store.db;
  const org = await createOrganization(db, { slug: "acme", display_name: "Acme" });
  const project = await createProject(db, {
    org_id: org.id,
    slug: "research",
    display_name: "Research",
  });
  const other = await createProject(db, { org_id: org.id, slug: "other", display_name: "Other" });
  const tokens = {} as Record<Role, string>;
  const userToken = async (role: Role): Promise<void> => {
    const user = await createUser(db, {
      email: `${role}@acme.test`,
      display_name: role,
      ...(role === "operator" ? { platform_role: "platform_operator" as const } : {}),
    });
    if (role === "org_admin")
      await createMembership(db, { user_id: user.id, org_id: org.id, role: "org_admin" });
    if (role === "project_admin" || role === "project_member" || role === "project_viewer") {
      await createMembership(db, { user_id: user.id, project_id: project.id, role });
    }
    if (role === "other_project_member") {
      await createMembership(db, { user_id: user.id, project_id: other.id, role: "project_admin" });
    }
    tokens[role] = (
      await createToken(db, { owner: { kind: "user", user_id: user.id }, name: role })
    ).plaintext;
  };
  for (const role of ROLES) {
    if (role === "service_account_member") continue;
    await userToken(role);
  }
  const account = await createServiceAccount(db, {
    project_id: project.id,
    name: "ci",
    role: "project_member",
  });
  tokens.service_account_member = (
    await createToken(db, {
      owner: { kind: "service_account", service_account_id: account.id },
      name: "ci",
    })
  ).plaintext;
  return {
    app,
    store,
    config,
    orgId: org.id,
    projectId: project.id,
    otherProjectId: other.id,
    tokens,
    logs,
    auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }),
    close: async () => {
      await app.close();
      await opened.close();
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}

export { DATABASE_URL, loadPgliteTemplate };
