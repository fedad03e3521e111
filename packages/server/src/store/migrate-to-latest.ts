import { type Migration, type MigrationProvider, Migrator, sql } from "kysely";
import type { StoreDb } from "./database.js";
import { MIGRATIONS } from "./migrations/migrations.js";
import type { SqlMigration } from "./migrations/sql-migration.js";
import { StoreError } from "./store-error.js";

/** Kysely's default name for the table recording applied migrations. */
const MIGRATION_TABLE = "kysely_migration";

/** Serves migrations from code: nothing is read from the file system at run time. */
class InCodeMigrationProvider implements MigrationProvider {
  readonly #migrations: readonly SqlMigration[];

  constructor(migrations: readonly SqlMigration[]) {
    this.#migrations = migrations;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const entries = this.#migrations.map((migration): [string, Migration] => [
      migration.name,
      {
        async up(db) {
          for (const statement of migration.statements) await sql.raw(statement).execute(db);
        },
      },
    ]);
    return Object.fromEntries(entries);
  }
}

/**
 * Applies every migration not yet applied, in order, in one transaction and under Kysely's
 * migration lock (a PostgreSQL advisory lock), so replicas starting together apply each one once
 * and a failure leaves the schema as it was. Returns the names applied now; an up-to-date store returns none.
 */
export async function migrateToLatest(
  db: StoreDb,
  options: { readonly schema?: string; readonly migrations?: readonly SqlMigration[] } = {},
): Promise<readonly string[]> {
  const migrations = options.migrations ?? MIGRATIONS;
  if (await isCurrent(db, migrations, options.schema)) return [];
  const migrator = new Migrator({
    db,
    provider: new InCodeMigrationProvider(migrations),
    ...(options.schema === undefined ? {} : { migrationTableSchema: options.schema }),
  });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === "Error");
    throw new StoreError(
      "store.migration_failed",
      `migration ${failed?.migrationName ?? "(before any migration)"} failed: ${String(error)}`,
      { migration: failed?.migrationName ?? null },
      { cause: error },
    );
  }
  return results.filter((result) => result.status === "Success").map((r) => r.migrationName);
}

/**
 * True when every migration is recorded as applied. Two plain reads instead of the Migrator's
 * catalog introspection, which costs PGlite a few hundred milliseconds on every open.
 */
async function isCurrent(
  db: StoreDb,
  migrations: readonly SqlMigration[],
  schema: string | undefined,
): Promise<boolean> {
  const table = schema === undefined ? MIGRATION_TABLE : `${schema}.${MIGRATION_TABLE}`;
  const exists = await sql<{
    present: boolean;
  }>`SELECT to_regclass(${table}) IS NOT NULL AS present`.execute(db);
  if (exists.rows[0]?.present !== true) return false;
  const applied = await sql<{ name: string }>`SELECT name FROM ${sql.table(table)}`.execute(db);
  const names = new Set(applied.rows.map((row) => row.name));
  return migrations.every((migration) => names.has(migration.name));
}
