import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { checkAuthoringGate, validateProfile } from "@gpuaas/contract";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../http/build-app.js";
import { isLoopbackHost, type ServerConfig } from "../http/server-config.js";
import {
  authenticateToken,
  createMembership,
  createOrganization,
  createProject,
  createToken,
  createUser,
  getAppVersion,
  getUserByEmail,
  listOrganizations,
  listProjects,
  openStore,
  registerAppVersion,
  type Store,
  setEntitlement,
} from "../store/index.js";
import type { JsonValue } from "../store/types.js";

/** A curated profile manifest to load into the catalog at start-up. */
export interface CuratedManifest {
  readonly source: string;
  readonly manifest: JsonValue;
}

/** A running control plane. */
export interface ControlPlane {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly url: string;
  /** The operator token, present only on the run that created it (it is also in admin.token). */
  readonly newAdminToken: string | undefined;
  readonly adminTokenPath: string;
  readonly projectId: string;
  readonly loaded: readonly {
    readonly slug: string;
    readonly version: string;
    readonly created: boolean;
  }[];
  /**
   * Makes the edge's routes exactly the stored intents now (after the edge lost them, e.g. a
   * restarted Caddy); a no-op without a Caddy admin endpoint.
   */
  reconcileEdge(): Promise<void>;
  close(): Promise<void>;
}

/** The catalog version a curated manifest is registered under: its content decides it. */
export function toCuratedVersion(manifest: JsonValue): string {
  return `curated-${createHash("sha256").update(JSON.stringify(manifest)).digest("hex").slice(0, 12)}`;
}

/**
 * Starts the control plane on its embedded defaults (`gpuaas up`): opens the store (PGlite in the
 * data directory, or PostgreSQL), loads the curated profiles, and on the first run creates the
 * default organization and project and the first operator with a token written to
 * `<data-dir>/admin.token` (mode 0600). Restarting keeps all state and mints nothing new.
 */
export async function startControlPlane(options: {
  readonly config: ServerConfig;
  readonly curated: readonly CuratedManifest[];
  readonly logStream?: { write(line: string): void };
  /** The built web console to serve at `/` (`gpuaas up` passes `packages/web/dist`). */
  readonly webConsoleDir?: string;
}): Promise<ControlPlane> {
  const { config } = options;
  const dataDir = resolve(config.data_dir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(
    config.database_url !== undefined
      ? { kind: "postgres", connectionString: config.database_url }
      : { kind: "pglite", dataDir: join(dataDir, "pgdata") },
  );
  try {
    const adminTokenPath = join(dataDir, "admin.token");
    const { projectId, newAdminToken } = await seedDefaults(store, adminTokenPath);
    const loaded = await loadCurated(store, options.curated, projectId);
    const app = await buildApp({
      store,
      config,
      ...(options.logStream ? { logStream: options.logStream } : {}),
      ...(options.webConsoleDir !== undefined ? { webConsoleDir: options.webConsoleDir } : {}),
    });
    if (!isLoopbackHost(config.host)) {
      app.log.warn(
        { host: config.host },
        "listening beyond loopback: every route except health and the OpenAPI document requires a bearer token",
      );
    }
    const address = await app.listen({ host: config.host, port: config.port });
    return {
      app,
      store,
      url: address,
      newAdminToken,
      adminTokenPath,
      projectId,
      loaded,
      reconcileEdge: async () => {
        await app.ingress.edge?.reconcile();
      },
      close: async () => {
        await app.close();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

async function seedDefaults(
  store: Store,
  adminTokenPath: string,
): Promise<{ projectId: string; newAdminToken: string | undefined }> {
  const db = store.db;
  const existing = (await listOrganizations(db)).find((org) => org.slug === "default");
  if (existing !== undefined) {
    const project = (await listProjects(db, existing.id)).find(
      (candidate) => candidate.slug === "default",
    );
    if (project === undefined)
      throw new Error("the store has a default organization but no default project");
    const current = await readToken(adminTokenPath);
    const valid = current !== undefined && (await authenticateToken(db, current)) !== undefined;
    if (valid) return { projectId: project.id, newAdminToken: undefined };
    // The token file was lost or its token revoked: mint a fresh one for the existing operator.
    return { projectId: project.id, newAdminToken: await mintAdminToken(store, adminTokenPath) };
  }
  return store.transaction(async (tx) => {
    const org = await createOrganization(tx, {
      slug: "default",
      display_name: "Default organization",
    });
    const project = await createProject(tx, {
      org_id: org.id,
      slug: "default",
      display_name: "Default project",
    });
    const user = await createUser(tx, {
      email: "admin@localhost",
      display_name: "Administrator",
      platform_role: "platform_operator",
    });
    await createMembership(tx, { user_id: user.id, org_id: org.id, role: "org_admin" });
    const { plaintext } = await createToken(tx, {
      owner: { kind: "user", user_id: user.id },
      name: "admin (gpuaas up)",
    });
    await writeToken(adminTokenPath, plaintext);
    return { projectId: project.id, newAdminToken: plaintext };
  });
}

async function mintAdminToken(store: Store, path: string): Promise<string> {
  const id = (await getUserByEmail(store.db, "admin@localhost"))?.id;
  if (id === undefined) throw new Error("the default operator admin@localhost is missing");
  const { plaintext } = await createToken(store.db, {
    owner: { kind: "user", user_id: id },
    name: "admin (gpuaas up)",
  });
  await writeToken(path, plaintext);
  return plaintext;
}

async function readToken(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return undefined;
  }
}

async function writeToken(path: string, token: string): Promise<void> {
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function loadCurated(
  store: Store,
  curated: readonly CuratedManifest[],
  projectId: string,
): Promise<{ slug: string; version: string; created: boolean }[]> {
  const loaded: { slug: string; version: string; created: boolean }[] = [];
  for (const { source, manifest } of curated) {
    const validation = validateProfile(manifest);
    const gate = checkAuthoringGate(manifest);
    if (!validation.ok || validation.profile === undefined || !gate.ready) {
      throw new Error(
        `curated profile ${source} does not validate; run gpuaas profiles lint ${source}`,
      );
    }
    const slug = validation.profile.profile.slug;
    const version = toCuratedVersion(manifest);
    const existing = await getAppVersion(store.db, slug, version);
    if (existing === undefined) {
      await registerAppVersion(store.db, {
        version,
        manifest,
        profile: validation.profile,
        gate_report: gate,
        published: true,
      });
      await setEntitlement(store.db, { project_id: projectId, app_slug: slug, enabled: true });
    }
    loaded.push({ slug, version, created: existing === undefined });
  }
  return loaded;
}
