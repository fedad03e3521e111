import type { StoreDb } from "./database.js";

/**
 * Runs `work` in a transaction on `db`, or directly on `db` when it already is one, so store
 * functions that need atomicity compose inside a caller's transaction.
 */
export function inTransaction<T>(db: StoreDb, work: (tx: StoreDb) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
