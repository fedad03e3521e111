/** The event stream of instances and projects, and the audit log of who did what. */
import type { StoreDb } from "./database.js";
import { toPageLimit, toSerialCursor } from "./page-cursor.js";
import { withStoreErrors } from "./store-error.js";
import { toAuditEntry, toEvent } from "./to-api.js";
import type { AuditEntry, JsonObject, Page, StoreEvent } from "./types.js";

/** An event to record; `type` is dotted lowercase, e.g. `instance.launch_accepted`. */
export interface EventInput {
  readonly project_id: string;
  readonly instance_id?: string | null;
  readonly type: string;
  readonly message: string;
  readonly data?: JsonObject;
  readonly correlation_id: string;
}

/** Appends an event; its id orders it after every event committed before. */
export async function appendEvent(db: StoreDb, input: EventInput): Promise<StoreEvent> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("events")
      .values({
        project_id: input.project_id,
        instance_id: input.instance_id ?? null,
        type: input.type,
        message: input.message,
        data: JSON.stringify(input.data ?? {}),
        correlation_id: input.correlation_id,
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toEvent(row);
}

/**
 * Events of one instance (or a whole project) in order, after the cursor `after`. The next
 * page's cursor is the last event's id; poll with it to follow the stream.
 */
export async function listEvents(
  db: StoreDb,
  filter: ({ readonly instance_id: string } | { readonly project_id: string }) & {
    readonly after?: string;
    readonly limit?: number;
  },
): Promise<Page<StoreEvent>> {
  const limit = toPageLimit(filter.limit);
  let query = db.selectFrom("events").selectAll();
  query =
    "instance_id" in filter
      ? query.where("instance_id", "=", filter.instance_id)
      : query.where("project_id", "=", filter.project_id);
  if (filter.after !== undefined) query = query.where("id", ">", toSerialCursor(filter.after));
  const rows = await query
    .orderBy("id")
    .limit(limit + 1)
    .execute();
  const items = rows.slice(0, limit).map(toEvent);
  return { items, next_cursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}

/** An audit record: who (`user:<id>`, …) did `action` to `target` (`<kind>:<id>`). */
export interface AuditInput {
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly project_id?: string | null;
  readonly correlation_id: string;
  readonly data?: JsonObject;
}

/** Appends an audit record. */
export async function appendAudit(db: StoreDb, input: AuditInput): Promise<AuditEntry> {
  const row = await withStoreErrors(() =>
    db
      .insertInto("audit_log")
      .values({
        actor: input.actor,
        action: input.action,
        target: input.target,
        project_id: input.project_id ?? null,
        correlation_id: input.correlation_id,
        data: JSON.stringify(input.data ?? {}),
      })
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return toAuditEntry(row);
}

/** Audit records in order, of one project or of the whole platform, after the cursor `after`. */
export async function listAudit(
  db: StoreDb,
  filter: { readonly project_id?: string; readonly after?: string; readonly limit?: number } = {},
): Promise<Page<AuditEntry>> {
  const limit = toPageLimit(filter.limit);
  let query = db.selectFrom("audit_log").selectAll();
  if (filter.project_id !== undefined) query = query.where("project_id", "=", filter.project_id);
  if (filter.after !== undefined) query = query.where("id", ">", toSerialCursor(filter.after));
  const rows = await query
    .orderBy("id")
    .limit(limit + 1)
    .execute();
  const items = rows.slice(0, limit).map(toAuditEntry);
  return { items, next_cursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}
