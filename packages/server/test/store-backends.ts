// The backends the store suite runs on: PGlite always, PostgreSQL when DATABASE_URL is set.
// PGlite stores open from a migrated template (initdb costs ~3 s, a template load ~0.3 s); the
// template is cached on disk per PGlite version and migration text, so only the first run of a
// changed schema pays for initdb. PostgreSQL stores get a schema of their own, dropped on close,
// so parallel runs against one server never see each other's rows.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { sql } from "kysely";
import {
  createPgliteTemplate,
  MIGRATIONS,
  openStore,
  type Store,
  type StoreOptions,
} from "../src/index.js";

/** A store opened for a test, with the options that reopen it and a close that cleans up. */
export interface TestStore {
  readonly store: Store;
  readonly options: StoreOptions;
  /** Milliseconds the open took, template preparation excluded. */
  readonly openMs: number;
  close(): Promise<void>;
}

/** One database engine the suite runs against. */
export interface TestBackend {
  readonly name: "pglite" | "postgres";
  open(): Promise<TestStore>;
}

/** The PostgreSQL the suite uses when set, e.g. postgres://postgres@127.0.0.1:5432/test. */
export const DATABASE_URL = process.env.DATABASE_URL;

const require = createRequire(import.meta.url);
const repoRoot = new URL("../../../", import.meta.url).pathname;

let template: Promise<{ blob: Blob; ms: number; cached: boolean }> | undefined;

/** The migrated PGlite template, built once per process (or read from the on-disk cache). */
export function loadPgliteTemplate(): Promise<{ blob: Blob; ms: number; cached: boolean }> {
  template ??= (async () => {
    const started = performance.now();
    const pgliteDir = dirname(dirname(require.resolve("@electric-sql/pglite")));
    const pgliteVersion = JSON.parse(await readFile(join(pgliteDir, "package.json"), "utf8"))
      .version as string;
    const key = createHash("sha256")
      .update(JSON.stringify({ pgliteVersion, MIGRATIONS }))
      .digest("hex")
      .slice(0, 16);
    const cacheDir = join(repoRoot, "node_modules", ".cache", "gpuaas");
    const path = join(cacheDir, `pglite-template-${key}.tar`);
    try {
      const bytes = await readFile(path);
      return { blob: new Blob([bytes]), ms: performance.now() - started, cached: true };
    } catch {
      const blob = await createPgliteTemplate();
      await mkdir(cacheDir, { recursive: true });
      // Write-then-rename: test files run in parallel processes and may race to fill the cache.
      const temporary = `${path}.${process.pid}.tmp`;
      await writeFile(temporary, new Uint8Array(await blob.arrayBuffer()));
      await rename(temporary, path);
      return { blob, ms: performance.now() - started, cached: false };
    }
  })();
  return template;
}

const pglite: TestBackend = {
  name: "pglite",
  async open() {
    const { blob } = await loadPgliteTemplate();
    const options: StoreOptions = { kind: "pglite", template: blob };
    const started = performance.now();
    const store = await openStore(options);
    return { store, options, openMs: performance.now() - started, close: () => store.close() };
  },
};

/** A fresh schema name for one test store. */
export function uniqueSchema(): string {
  return `gpuaas_test_${process.pid}_${randomBytes(4).toString("hex")}`;
}

function postgres(url: string): TestBackend {
  return {
    name: "postgres",
    async open() {
      const schema = uniqueSchema();
      const options: StoreOptions = { kind: "postgres", connectionString: url, schema };
      const started = performance.now();
      const store = await openStore(options);
      const openMs = performance.now() - started;
      return {
        store,
        options,
        openMs,
        async close() {
          try {
            await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(store.db);
          } finally {
            await store.close();
          }
        },
      };
    },
  };
}

/** The backends to run: PGlite, and PostgreSQL when DATABASE_URL is set. */
export const BACKENDS: readonly TestBackend[] = [
  pglite,
  ...(DATABASE_URL === undefined || DATABASE_URL === "" ? [] : [postgres(DATABASE_URL)]),
];
