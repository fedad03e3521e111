/** One forward-only schema step: statements run in order, in one transaction. */
export interface SqlMigration {
  /** Sorts in application order and is recorded once applied; never renamed. */
  readonly name: string;
  /** One SQL statement each: PGlite's extended protocol runs a single statement per query. */
  readonly statements: readonly string[];
}
