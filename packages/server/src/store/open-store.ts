import { existsSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import { Pool } from "pg";
import type { Database, StoreDb } from "./database.js";
import { migrateToLatest } from "./migrate-to-latest.js";
import { PGliteDialect } from "./pglite-dialect.js";

/** Where the store keeps its data. */
export type StoreOptions =
  | {
      /** Embedded PostgreSQL (WASM) in this process: the default, needs nothing installed. */
      readonly kind: "pglite";
      /** Data directory; created on first open. Absent: in memory, gone on close. */
      readonly dataDir?: string;
      /**
       * A dump from {@link createPgliteTemplate} that seeds a new store (in memory, or a data
       * directory that holds no database yet), skipping the ~3 s initdb and the migrations.
       * Ignored when the data directory already holds a database.
       */
      readonly template?: Blob;
    }
  | {
      /** A PostgreSQL server shared by every control-plane replica. */
      readonly kind: "postgres";
      readonly connectionString: string;
      /** Schema to keep the tables in (created when missing); default: the server's search path. */
      readonly schema?: string;
      /** Pool size; default 10. */
      readonly maxConnections?: number;
    };

/** An open store: the typed database handle every store function takes, and its lifetime. */
export interface Store {
  readonly kind: StoreOptions["kind"];
  readonly db: StoreDb;
  /** Migrations this open applied (none when the schema was already current). */
  readonly migrated: readonly string[];
  /**
   * Runs `work` in one transaction, committed when it resolves and rolled back when it throws.
   * Inside, use only `tx`: on PGlite the single session belongs to the transaction until it ends.
   */
  transaction<T>(work: (tx: StoreDb) => Promise<T>): Promise<T>;
  /** Closes the database (PGlite flushes its data directory; the PostgreSQL pool ends). */
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens the store and brings its schema up to date before returning.
 *
 * @example
 * const store = await openStore({ kind: "pglite", dataDir: ".gpuaas/data" });
 * const org = await createOrganization(store.db, { slug: "acme", display_name: "Acme" });
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const { db, schema } =
    options.kind === "pglite" ? await openPglite(options) : openPostgres(options);
  try {
    // The migrator creates a missing schema, tolerating a replica that creates it concurrently.
    const migrated = await migrateToLatest(db, schema === undefined ? {} : { schema });
    return {
      kind: options.kind,
      db,
      migrated,
      transaction: (work) => db.transaction().execute(work),
      close: () => db.destroy(),
    };
  } catch (error) {
    await db.destroy();
    throw error;
  }
}

/**
 * Creates a migrated, empty in-memory PGlite database and returns its data directory as an
 * uncompressed tarball, for {@link StoreOptions} `template`. Creating costs one initdb (~3 s);
 * opening from the template costs ~0.4 s.
 */
export async function createPgliteTemplate(): Promise<Blob> {
  const pglite = await PGlite.create();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  try {
    await migrateToLatest(db);
    // An uncompressed dump loads faster than a gzipped one; it is held in memory only.
    return await pglite.dumpDataDir("none");
  } finally {
    await db.destroy();
  }
}

async function openPglite(
  options: Extract<StoreOptions, { kind: "pglite" }>,
): Promise<{ db: StoreDb; schema: undefined }> {
  const { dataDir, template } = options;
  // PGlite refuses to load a template over an existing database.
  const seed =
    template !== undefined && (dataDir === undefined || !existsSync(join(dataDir, "PG_VERSION")));
  const pglite = await PGlite.create({
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(seed ? { loadDataDir: template } : {}),
  });
  return { db: new Kysely<Database>({ dialect: new PGliteDialect(pglite) }), schema: undefined };
}

function openPostgres(options: Extract<StoreOptions, { kind: "postgres" }>): {
  db: StoreDb;
  schema: string | undefined;
} {
  const { schema } = options;
  if (schema !== undefined && !SCHEMA_NAME.test(schema))
    throw new Error(`schema name ${JSON.stringify(schema)} is not a plain lowercase identifier`);
  const pool = new Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // Sent in the startup packet, so every pooled session sees only this schema from its first query.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client whose server went away emits `error` on the pool; unhandled, that would end the
  // process. The pool drops the client, and the next query reports the problem to its caller.
  pool.on("error", () => {});
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), schema };
}
