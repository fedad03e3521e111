/**
 * Route intents and their edge outbox. An instance's routes are recorded in the transaction that
 * makes it `running` and withdrawn in the one that moves it on, so the stored intents always say
 * which endpoints may be reached. Applying them to the edge happens after commit: each change
 * bumps the row's `edge_version`, and the edge applier marks the version it applied (or the
 * failure, with the next retry), so a change is never lost to a failed call.
 */
import type { RouteIntent, UnexposedEndpoint } from "@gpuaas/ingress";
import type { Selectable } from "kysely";
import type { StoreDb } from "./database.js";
import { type IngressDatabase, type RouteRowState, toIngressDb } from "./ingress-database.js";
import { withStoreErrors } from "./store-error.js";
import type { JsonObject } from "./types.js";

/** One endpoint's route as the API shows it. */
export interface StoredRoute {
  readonly route_id: string;
  readonly instance_id: string;
  readonly project_id: string;
  readonly endpoint_name: string;
  /** `active` while the instance runs; `withdrawn` after; `unexposed` when it gets no route. */
  readonly state: RouteRowState;
  readonly public_host: string | null;
  /** The renderer-neutral intent (kept after withdrawal, for the record). */
  readonly intent: RouteIntent | null;
  /** Why the endpoint is not exposed (`ingress.*` code), for `unexposed` rows. */
  readonly reason: { readonly code: string; readonly message: string } | null;
  readonly edge: {
    /** True when the edge has seen the latest change of this row. */
    readonly in_sync: boolean;
    readonly attempts: number;
    readonly error: string | null;
    readonly retry_at: string | null;
    readonly applied_at: string | null;
  };
  readonly created_at: string;
  readonly updated_at: string;
}

/** A change the edge must apply: put an active route there, or take it away. */
export interface EdgeWork {
  readonly route_id: string;
  readonly project_id: string;
  readonly instance_id: string;
  /** The version this work brings the edge to; mark it applied with the same number. */
  readonly version: number;
  readonly attempts: number;
  /** The intent to render when the route is active; undefined means remove it from the edge. */
  readonly intent: RouteIntent | undefined;
}

/** What recording or withdrawing routes changed at the edge. */
export interface RouteChange {
  /** Routes that are (again, or differently) active: the edge must add or replace them. */
  readonly activated: readonly string[];
  /** Routes that are no longer active: the edge must remove them. */
  readonly withdrawn: readonly string[];
}

type RouteRow = Selectable<IngressDatabase["route_intents"]>;

function toStoredRoute(row: RouteRow): StoredRoute {
  return {
    route_id: row.route_id,
    instance_id: row.instance_id,
    project_id: row.project_id,
    endpoint_name: row.endpoint_name,
    state: row.state,
    public_host: row.public_host,
    intent: row.intent === null ? null : (row.intent as unknown as RouteIntent),
    reason:
      row.reason_code === null
        ? null
        : { code: row.reason_code, message: row.reason_message ?? "" },
    edge: {
      in_sync: row.edge_version === row.edge_applied_version,
      attempts: row.edge_attempts,
      error: row.edge_error,
      retry_at: row.edge_retry_at === null ? null : row.edge_retry_at.toISOString(),
      applied_at: row.edge_applied_at === null ? null : row.edge_applied_at.toISOString(),
    },
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** JSON with object keys sorted, so two equal intents compare equal whatever jsonb did to them. */
export function toCanonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(toCanonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${toCanonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// A fresh change resets the retry bookkeeping: the applier takes it on its next pass.
const FRESH_EDGE_WORK = { edge_attempts: 0, edge_error: null, edge_retry_at: null } as const;

/**
 * Records an instance's routes as {@link deriveRouteIntents} gave them: each intent `active`,
 * each other endpoint `unexposed` with its reason, and rows of endpoints the profile no longer
 * has withdrawn. Only real changes become edge work. Call it inside the transaction that moves
 * the instance to `running`.
 */
export async function recordRouteIntents(
  db: StoreDb,
  input: {
    readonly instance_id: string;
    readonly project_id: string;
    readonly intents: readonly RouteIntent[];
    readonly unexposed: readonly UnexposedEndpoint[];
    readonly now: Date;
  },
): Promise<RouteChange> {
  const idb = toIngressDb(db);
  const existing = new Map(
    (
      await idb
        .selectFrom("route_intents")
        .selectAll()
        .where("instance_id", "=", input.instance_id)
        .forUpdate()
        .execute()
    ).map((row) => [row.endpoint_name, row]),
  );
  const activated: string[] = [];
  const withdrawn: string[] = [];
  const seen = new Set<string>();
  const write = async (
    endpointName: string,
    routeId: string,
    fields: {
      readonly state: RouteRowState;
      readonly public_host: string | null;
      readonly intent: JsonObject | null;
      readonly reason_code: string | null;
      readonly reason_message: string | null;
    },
  ): Promise<void> => {
    seen.add(endpointName);
    const row = existing.get(endpointName);
    const wasActive = row?.state === "active";
    const isActive = fields.state === "active";
    const changed =
      wasActive !== isActive ||
      (isActive && toCanonicalJson(row?.intent) !== toCanonicalJson(fields.intent));
    if (changed && isActive) activated.push(routeId);
    if (changed && !isActive) withdrawn.push(routeId);
    const values = {
      ...fields,
      intent: fields.intent === null ? null : JSON.stringify(fields.intent),
      updated_at: input.now,
    };
    if (row === undefined) {
      await withStoreErrors(() =>
        idb
          .insertInto("route_intents")
          .values({
            route_id: routeId,
            instance_id: input.instance_id,
            project_id: input.project_id,
            endpoint_name: endpointName,
            ...values,
            edge_version: isActive ? 1 : 0,
          })
          .execute(),
      );
      return;
    }
    await withStoreErrors(() =>
      idb
        .updateTable("route_intents")
        .set({
          ...values,
          ...(changed
            ? { edge_version: row.edge_version + 1, ...FRESH_EDGE_WORK }
            : { edge_version: row.edge_version }),
        })
        .where("route_id", "=", row.route_id)
        .execute(),
    );
  };
  for (const intent of input.intents) {
    await write(intent.endpointName, intent.routeId, {
      state: "active",
      public_host: intent.publicHost,
      intent: intent as unknown as JsonObject,
      reason_code: null,
      reason_message: null,
    });
  }
  for (const item of input.unexposed) {
    await write(item.endpoint, `${input.instance_id}.${item.endpoint}`, {
      state: "unexposed",
      public_host: null,
      intent: null,
      reason_code: item.code,
      reason_message: item.message,
    });
  }
  for (const [endpointName, row] of existing) {
    if (seen.has(endpointName) || row.state !== "active") continue;
    withdrawn.push(row.route_id);
    await idb
      .updateTable("route_intents")
      .set({
        state: "withdrawn",
        edge_version: row.edge_version + 1,
        ...FRESH_EDGE_WORK,
        updated_at: input.now,
      })
      .where("route_id", "=", row.route_id)
      .execute();
  }
  return { activated, withdrawn };
}

/**
 * Withdraws every active route of an instance (it stopped, failed, is restarting, being
 * decommissioned or in doubt): the rows stay, `withdrawn`, as edge work. Returns their ids.
 */
export async function withdrawRouteIntents(
  db: StoreDb,
  input: { readonly instance_id: string; readonly now: Date },
): Promise<string[]> {
  const rows = await toIngressDb(db)
    .updateTable("route_intents")
    .set((eb) => ({
      state: "withdrawn",
      edge_version: eb("edge_version", "+", 1),
      ...FRESH_EDGE_WORK,
      updated_at: input.now,
    }))
    .where("instance_id", "=", input.instance_id)
    .where("state", "=", "active")
    .returning("route_id")
    .execute();
  return rows.map((row) => row.route_id).sort();
}

/** One route by id, or undefined. */
export async function getRouteIntent(
  db: StoreDb,
  routeId: string,
): Promise<StoredRoute | undefined> {
  const row = await toIngressDb(db)
    .selectFrom("route_intents")
    .selectAll()
    .where("route_id", "=", routeId)
    .executeTakeFirst();
  return row === undefined ? undefined : toStoredRoute(row);
}

/** The active route serving `host`, or undefined. */
export async function findActiveRouteByHost(
  db: StoreDb,
  host: string,
): Promise<StoredRoute | undefined> {
  const row = await toIngressDb(db)
    .selectFrom("route_intents")
    .selectAll()
    .where("public_host", "=", host)
    .where("state", "=", "active")
    .executeTakeFirst();
  return row === undefined ? undefined : toStoredRoute(row);
}

/** Routes of one project, one instance, or the whole platform, by route id. */
export async function listRouteIntents(
  db: StoreDb,
  filter: {
    readonly project_id?: string;
    readonly instance_id?: string;
    readonly states?: readonly RouteRowState[];
  } = {},
): Promise<StoredRoute[]> {
  let query = toIngressDb(db).selectFrom("route_intents").selectAll();
  if (filter.project_id !== undefined) query = query.where("project_id", "=", filter.project_id);
  if (filter.instance_id !== undefined) query = query.where("instance_id", "=", filter.instance_id);
  if (filter.states !== undefined) {
    if (filter.states.length === 0) return [];
    query = query.where("state", "in", filter.states);
  }
  const rows = await query.orderBy("route_id").execute();
  return rows.map(toStoredRoute);
}

/** Edge work that is due at `now`, oldest change first. */
export async function listEdgeWork(
  db: StoreDb,
  input: { readonly now: Date; readonly limit?: number; readonly includeDeferred?: boolean },
): Promise<EdgeWork[]> {
  let query = toIngressDb(db)
    .selectFrom("route_intents")
    .selectAll()
    .whereRef("edge_version", "<>", "edge_applied_version");
  if (input.includeDeferred !== true) {
    query = query.where((eb) =>
      eb.or([eb("edge_retry_at", "is", null), eb("edge_retry_at", "<=", input.now)]),
    );
  }
  const rows = await query
    .orderBy("updated_at")
    .orderBy("route_id")
    .limit(input.limit ?? 100)
    .execute();
  return rows.map((row) => ({
    route_id: row.route_id,
    project_id: row.project_id,
    instance_id: row.instance_id,
    version: row.edge_version,
    attempts: row.edge_attempts,
    intent:
      row.state === "active" && row.intent !== null
        ? (row.intent as unknown as RouteIntent)
        : undefined,
  }));
}

/** Records that the edge applied `version` of a route; a newer change stays pending. */
export async function markEdgeApplied(
  db: StoreDb,
  input: { readonly route_id: string; readonly version: number; readonly now: Date },
): Promise<void> {
  await toIngressDb(db)
    .updateTable("route_intents")
    .set({ edge_applied_version: input.version, ...FRESH_EDGE_WORK, edge_applied_at: input.now })
    .where("route_id", "=", input.route_id)
    .where("edge_version", "=", input.version)
    .execute();
}

/** Records a failed edge call for `version` of a route and when to try again. */
export async function markEdgeFailed(
  db: StoreDb,
  input: {
    readonly route_id: string;
    readonly version: number;
    readonly error: string;
    readonly retry_at: Date;
  },
): Promise<void> {
  await toIngressDb(db)
    .updateTable("route_intents")
    .set((eb) => ({
      edge_attempts: eb("edge_attempts", "+", 1),
      edge_error: input.error.slice(0, 1000),
      edge_retry_at: input.retry_at,
    }))
    .where("route_id", "=", input.route_id)
    .where("edge_version", "=", input.version)
    .execute();
}
