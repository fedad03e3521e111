/** The app catalog, its versions, and which projects may launch which app. */
import type { GateReport, WorkloadProfile } from "@gpuaas/contract";
import type { StoreDb } from "./database.js";
import { inTransaction } from "./in-transaction.js";
import { newId } from "./mint-secret.js";
import { StoreError, withStoreErrors } from "./store-error.js";
import { type AppVersionRow, iso, toApp, toAppVersion, toEntitlement } from "./to-api.js";
import type { App, AppVersion, Entitlement, JsonValue } from "./types.js";

function selectAppVersions(db: StoreDb) {
  return db
    .selectFrom("app_versions")
    .innerJoin("app_catalog", "app_catalog.id", "app_versions.app_id")
    .selectAll("app_versions")
    .select("app_catalog.slug as app_slug");
}

/**
 * Records a validated app version: the manifest as submitted, the contract's normalized profile
 * and its authoring-gate report. The app is created on its first version, and its catalog entry
 * (name, description, support level) follows the profile of each newly registered version.
 * `store.conflict` when that version of the app exists already.
 */
export async function registerAppVersion(
  db: StoreDb,
  input: {
    readonly version: string;
    readonly manifest: JsonValue;
    readonly profile: WorkloadProfile;
    readonly gate_report: GateReport;
    readonly published?: boolean;
  },
): Promise<AppVersion> {
  const meta = input.profile.profile;
  return inTransaction(db, async (tx) => {
    const app = await tx
      .insertInto("app_catalog")
      .values({
        id: newId(),
        slug: meta.slug,
        display_name: meta.display_name,
        description: meta.description,
        support_level: meta.support_level,
      })
      .onConflict((oc) =>
        oc.column("slug").doUpdateSet((eb) => ({
          display_name: eb.ref("excluded.display_name"),
          description: eb.ref("excluded.description"),
          support_level: eb.ref("excluded.support_level"),
          updated_at: new Date(),
        })),
      )
      .returning(["id", "slug"])
      .executeTakeFirstOrThrow();
    const row = await withStoreErrors(() =>
      tx
        .insertInto("app_versions")
        .values({
          id: newId(),
          app_id: app.id,
          version: input.version,
          manifest: JSON.stringify(input.manifest),
          profile: JSON.stringify(input.profile),
          gate_report: JSON.stringify(input.gate_report),
          published: input.published ?? false,
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return toAppVersion({ ...row, app_slug: app.slug });
  });
}

/** The app with this slug, or undefined. */
export async function getApp(db: StoreDb, slug: string): Promise<App | undefined> {
  const row = await db
    .selectFrom("app_catalog")
    .selectAll()
    .where("slug", "=", slug)
    .executeTakeFirst();
  return row === undefined ? undefined : toApp(row);
}

/** Every app in the catalog, by slug. */
export async function listApps(db: StoreDb): Promise<App[]> {
  const rows = await db.selectFrom("app_catalog").selectAll().orderBy("slug").execute();
  return rows.map(toApp);
}

/** One line of the catalog: a version's label, publication and age, without its manifest. */
export interface AppVersionSummary {
  readonly app_slug: string;
  readonly version: string;
  readonly published: boolean;
  readonly created_at: string;
}

/**
 * The versions of every app in one query, oldest first, without manifests or profiles, for the
 * catalog listing (which would otherwise load every full manifest to show three fields).
 */
export async function listAppVersionSummaries(
  db: StoreDb,
  options: { readonly published_only?: boolean } = {},
): Promise<AppVersionSummary[]> {
  let query = db
    .selectFrom("app_versions")
    .innerJoin("app_catalog", "app_catalog.id", "app_versions.app_id")
    .select([
      "app_catalog.slug as app_slug",
      "app_versions.version",
      "app_versions.published",
      "app_versions.created_at",
    ]);
  if (options.published_only === true) query = query.where("app_versions.published", "=", true);
  const rows = await query.orderBy("app_versions.created_at").orderBy("app_versions.id").execute();
  return rows.map((row) => ({
    app_slug: row.app_slug,
    version: row.version,
    published: row.published,
    created_at: iso(row.created_at),
  }));
}

/** The versions of an app, oldest first; `published_only` hides unpublished ones. */
export async function listAppVersions(
  db: StoreDb,
  slug: string,
  options: { readonly published_only?: boolean } = {},
): Promise<AppVersion[]> {
  let query = selectAppVersions(db).where("app_catalog.slug", "=", slug);
  if (options.published_only === true) query = query.where("app_versions.published", "=", true);
  const rows: AppVersionRow[] = await query
    .orderBy("app_versions.created_at")
    .orderBy("app_versions.id")
    .execute();
  return rows.map(toAppVersion);
}

/** One version of an app by slug and version string, or undefined. */
export async function getAppVersion(
  db: StoreDb,
  slug: string,
  version: string,
): Promise<AppVersion | undefined> {
  const row = await selectAppVersions(db)
    .where("app_catalog.slug", "=", slug)
    .where("app_versions.version", "=", version)
    .executeTakeFirst();
  return row === undefined ? undefined : toAppVersion(row);
}

/** One app version by id, or undefined. */
export async function getAppVersionById(db: StoreDb, id: string): Promise<AppVersion | undefined> {
  const row = await selectAppVersions(db).where("app_versions.id", "=", id).executeTakeFirst();
  return row === undefined ? undefined : toAppVersion(row);
}

/** Publishes or unpublishes an app version in the catalog. */
export async function setAppVersionPublished(
  db: StoreDb,
  id: string,
  published: boolean,
): Promise<AppVersion> {
  const updated = await db
    .updateTable("app_versions")
    .set({ published })
    .where("id", "=", id)
    .executeTakeFirst();
  if (updated.numUpdatedRows === 0n)
    throw new StoreError("store.not_found", `app version ${id} not found`);
  const version = await getAppVersionById(db, id);
  if (version === undefined) throw new StoreError("store.not_found", `app version ${id} not found`);
  return version;
}

/** Enables or disables an app for a project (an upsert). */
export async function setEntitlement(
  db: StoreDb,
  input: { readonly project_id: string; readonly app_slug: string; readonly enabled: boolean },
): Promise<Entitlement> {
  const now = new Date();
  const row = await withStoreErrors(() =>
    db
      .insertInto("project_entitlements")
      .values({
        project_id: input.project_id,
        app_slug: input.app_slug,
        enabled: input.enabled,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(["project_id", "app_slug"])
          .doUpdateSet({ enabled: input.enabled, updated_at: now }),
      )
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toEntitlement(row);
}

/** A project's entitlements, by app slug. */
export async function listEntitlements(db: StoreDb, projectId: string): Promise<Entitlement[]> {
  const rows = await db
    .selectFrom("project_entitlements")
    .selectAll()
    .where("project_id", "=", projectId)
    .orderBy("app_slug")
    .execute();
  return rows.map(toEntitlement);
}

/** True when the project has an enabled entitlement for the app. */
export async function isEntitled(
  db: StoreDb,
  projectId: string,
  appSlug: string,
): Promise<boolean> {
  const row = await db
    .selectFrom("project_entitlements")
    .select("enabled")
    .where("project_id", "=", projectId)
    .where("app_slug", "=", appSlug)
    .executeTakeFirst();
  return row?.enabled === true;
}
