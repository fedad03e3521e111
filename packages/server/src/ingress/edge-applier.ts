/**
 * Applies stored route intents to a live Caddy edge through its admin API, after the transaction
 * that changed them committed (the outbox pattern: the route row is the message). A failed call
 * is recorded on the row with its next retry and as an `ingress.edge_apply_failed` event; the
 * intent itself is never lost. A full reconcile (at start-up, then now and then) makes the
 * edge's routes exactly the active intents: missing ones added, changed ones replaced, strays
 * removed; routes that already match are left alone, because every Caddy config change closes
 * all proxied websockets (Caddy 2.6.2).
 */
import { randomUUID } from "node:crypto";
import {
  CADDY_ROUTE_ID_PREFIX,
  type CaddyRoute,
  type CaddyRouteOptions,
  renderCaddyRoute,
  toCaddyRouteId,
} from "@gpuaas/ingress";
import type { CaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import { appendEvent, type StoreDb } from "../store/index.js";
import {
  getRouteIntent,
  listEdgeWork,
  listRouteIntents,
  markEdgeApplied,
  markEdgeFailed,
  toCanonicalJson,
} from "../store/route-intents.js";

/** What one pass did at the edge. */
export interface EdgeReport {
  readonly added: number;
  readonly replaced: number;
  readonly removed: number;
  readonly unchanged: number;
  readonly failed: number;
}

/** The log calls the applier makes (a pino/Fastify logger fits). */
export interface EdgeLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** Drives one edge. */
export interface EdgeApplier {
  /** Applies pending changes soon; call it after a commit that may have changed routes. */
  kick(): void;
  /** Applies the changes that are due now. */
  applyPending(): Promise<EdgeReport>;
  /** Makes the edge's routes exactly the active intents. */
  reconcile(): Promise<EdgeReport>;
  /** Waits for a pass in progress. */
  idle(): Promise<void>;
}

/** Options of {@link createEdgeApplier}. */
export interface EdgeApplierOptions {
  readonly db: StoreDb;
  readonly admin: CaddyAdmin;
  /** Where the edge reaches forward auth; read at every pass (known once the server listens). */
  readonly routeOptions: () => CaddyRouteOptions;
  readonly now: () => Date;
  readonly log: EdgeLog;
  /** First retry delay after a failure; doubled per attempt up to {@link MAX_RETRY_MS}. */
  readonly retryMs: number;
}

/** The longest wait between two attempts at one change. */
export const MAX_RETRY_MS = 300_000;

const EMPTY: EdgeReport = { added: 0, replaced: 0, removed: 0, unchanged: 0, failed: 0 };

function add(a: EdgeReport, b: Partial<EdgeReport>): EdgeReport {
  return {
    added: a.added + (b.added ?? 0),
    replaced: a.replaced + (b.replaced ?? 0),
    removed: a.removed + (b.removed ?? 0),
    unchanged: a.unchanged + (b.unchanged ?? 0),
    failed: a.failed + (b.failed ?? 0),
  };
}

/** Creates an applier; it does nothing until called or kicked. */
export function createEdgeApplier(options: EdgeApplierOptions): EdgeApplier {
  const { db, admin, log } = options;
  let running: Promise<unknown> = Promise.resolve();
  let queued = false;

  /** Runs passes one after another, never two at once against the same edge. */
  function serialize<T>(pass: () => Promise<T>): Promise<T> {
    const next = running.then(pass, pass);
    running = next.catch(() => undefined);
    return next;
  }

  async function record(
    route: { readonly project_id: string; readonly instance_id: string },
    type: string,
    message: string,
    data: Record<string, string | number>,
    correlationId: string,
  ): Promise<void> {
    try {
      await appendEvent(db, {
        project_id: route.project_id,
        instance_id: route.instance_id,
        type,
        message,
        data,
        correlation_id: correlationId,
      });
    } catch {
      // The instance was deleted meanwhile; its events went with it.
    }
  }

  async function applyPendingNow(): Promise<EdgeReport> {
    const correlationId = `edge-${randomUUID()}`;
    const work = await listEdgeWork(db, { now: options.now() });
    let report = EMPTY;
    for (const item of work) {
      const id = toCaddyRouteId(item.route_id);
      try {
        if (item.intent !== undefined) {
          const outcome = await admin.addRoute(
            renderCaddyRoute(item.intent, options.routeOptions()),
          );
          report = add(report, outcome === "added" ? { added: 1 } : { replaced: 1 });
          await record(
            item,
            "ingress.route_applied",
            `route ${item.route_id} ${outcome} at the edge (${item.intent.publicHost})`,
            { route_id: item.route_id, public_host: item.intent.publicHost, outcome },
            correlationId,
          );
        } else {
          const removed = await admin.removeRoute(id);
          report = add(report, removed ? { removed: 1 } : { unchanged: 1 });
          await record(
            item,
            "ingress.route_removed",
            `route ${item.route_id} removed from the edge`,
            { route_id: item.route_id, outcome: removed ? "removed" : "absent" },
            correlationId,
          );
        }
        await markEdgeApplied(db, {
          route_id: item.route_id,
          version: item.version,
          now: options.now(),
        });
      } catch (error) {
        report = add(report, { failed: 1 });
        const message = error instanceof Error ? error.message : String(error);
        const delay = Math.min(options.retryMs * 2 ** Math.min(item.attempts, 16), MAX_RETRY_MS);
        const retryAt = new Date(options.now().getTime() + Math.max(delay, 100));
        await markEdgeFailed(db, {
          route_id: item.route_id,
          version: item.version,
          error: message,
          retry_at: retryAt,
        });
        log.warn(
          { route_id: item.route_id, attempt: item.attempts + 1, err: message },
          "edge route change failed; it will be retried",
        );
        // One event per change on its first failure, then one per ten, so a long outage stays readable.
        if (item.attempts % 10 === 0) {
          await record(
            item,
            "ingress.edge_apply_failed",
            `the edge did not take route ${item.route_id} (${item.intent !== undefined ? "apply" : "remove"}): ${message}; retrying from ${retryAt.toISOString()}`,
            {
              route_id: item.route_id,
              action: item.intent !== undefined ? "apply" : "remove",
              attempt: item.attempts + 1,
              error: message.slice(0, 500),
              retry_at: retryAt.toISOString(),
            },
            correlationId,
          );
        }
      }
    }
    if (report.added + report.replaced + report.removed + report.failed > 0) {
      log.info({ ...report }, "edge routes applied");
    }
    return report;
  }

  async function reconcileNow(): Promise<EdgeReport> {
    const correlationId = `edge-${randomUUID()}`;
    const now = options.now();
    // Snapshot the pending versions first: a change committed during the pass stays pending.
    const pending = await listEdgeWork(db, { now, includeDeferred: true, limit: 10_000 });
    const active = await listRouteIntents(db, { states: ["active"] });
    const onEdge = new Map<string, CaddyRoute>();
    for (const route of await admin.listRoutes()) {
      const id = route["@id"];
      if (id !== undefined) onEdge.set(id, route);
    }
    const routeOptions = options.routeOptions();
    let report = EMPTY;
    const wanted = new Set<string>();
    for (const row of active) {
      if (row.intent === null) continue;
      const id = toCaddyRouteId(row.route_id);
      wanted.add(id);
      const rendered = renderCaddyRoute(row.intent, routeOptions);
      const current = onEdge.get(id);
      if (current !== undefined && toCanonicalJson(current) === toCanonicalJson(rendered)) {
        report = add(report, { unchanged: 1 });
        continue;
      }
      const outcome = await admin.addRoute(rendered);
      report = add(report, outcome === "added" ? { added: 1 } : { replaced: 1 });
      await record(
        row,
        "ingress.route_applied",
        `route ${row.route_id} ${outcome} at the edge by a reconcile (${row.intent.publicHost})`,
        { route_id: row.route_id, public_host: row.intent.publicHost, outcome, by: "reconcile" },
        correlationId,
      );
    }
    for (const id of onEdge.keys()) {
      if (wanted.has(id)) continue;
      await admin.removeRoute(id);
      report = add(report, { removed: 1 });
      const row = await getRouteIntent(db, id.slice(CADDY_ROUTE_ID_PREFIX.length));
      if (row !== undefined) {
        await record(
          row,
          "ingress.route_removed",
          `route ${row.route_id} removed from the edge by a reconcile`,
          { route_id: row.route_id, outcome: "removed", by: "reconcile" },
          correlationId,
        );
      }
    }
    for (const item of pending) {
      await markEdgeApplied(db, { route_id: item.route_id, version: item.version, now });
    }
    if (report.added + report.replaced + report.removed > 0) {
      log.info({ ...report }, "edge reconciled with the stored route intents");
    }
    return report;
  }

  return {
    kick() {
      if (queued) return;
      queued = true;
      void serialize(async () => {
        queued = false;
        await applyPendingNow();
      }).catch((error: unknown) =>
        log.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "edge pass failed",
        ),
      );
    },
    applyPending: () => serialize(applyPendingNow),
    reconcile: () => serialize(reconcileNow),
    async idle() {
      await running;
    },
  };
}
