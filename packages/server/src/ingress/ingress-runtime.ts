/**
 * Managed ingress inside one control-plane process: the settings, the assertion signer, and (when
 * a Caddy admin endpoint is configured) the edge applier with its timer. Once the server listens,
 * the edge is reconciled with the stored intents (retried until it succeeds); then pending
 * changes are applied when a commit kicks the applier and on every tick, and the edge is
 * reconciled again every minute.
 */
import type { AddressInfo } from "node:net";
import { type CaddyRouteOptions, FORWARD_AUTH_PATH } from "@gpuaas/ingress";
import { createCaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import type { FastifyInstance } from "fastify";
import type { ServerConfig } from "../http/server-config.js";
import type { Store } from "../store/index.js";
import { purgeIngressCredentials } from "../store/ingress-credentials.js";
import {
  type AssertionSigner,
  createAssertionSigner,
  resolveAssertionKeyFile,
} from "./assertion-signer.js";
import { createEdgeApplier, type EdgeApplier } from "./edge-applier.js";
import { type IngressSettings, toIngressSettings } from "./ingress-settings.js";

/** Managed ingress as the routes and the reconciler see it. */
export interface IngressRuntime {
  readonly settings: IngressSettings;
  readonly signer: AssertionSigner;
  /** The edge applier; undefined when no Caddy admin endpoint is configured. */
  readonly edge: EdgeApplier | undefined;
  /** Base URL of the console (sign-in page, assertion issuer), without a trailing slash. */
  consoleUrl(): string;
  /** Tells the edge applier a transaction that may have changed routes has committed. */
  afterCommit(): void;
}

/** How often the edge is fully reconciled and expired tickets and sessions are purged. */
export const RECONCILE_EVERY_MS = 60_000;

function toUrlHost(address: AddressInfo): string {
  if (address.address === "0.0.0.0") return "127.0.0.1";
  if (address.address === "::") return "[::1]";
  return address.family === "IPv6" ? `[${address.address}]` : address.address;
}

/** Creates the runtime of one app and hooks its start and stop to the app's. */
export function createIngressRuntime(
  app: FastifyInstance,
  input: { readonly config: ServerConfig; readonly store: Store; readonly now: () => Date },
): IngressRuntime {
  const { config, now } = input;
  const db = input.store.db;
  const settings = toIngressSettings(config);
  let listening: string | undefined;
  const consoleUrl = (): string =>
    (config.ingress_console_url || listening || "http://127.0.0.1").replace(/\/$/, "");
  const signer = createAssertionSigner({ keyFile: resolveAssertionKeyFile(config), now });
  const routeOptions = (): CaddyRouteOptions => {
    const base = config.ingress_forward_auth_url || listening || "http://127.0.0.1";
    return {
      authDial: new URL(base).host,
      authPath: FORWARD_AUTH_PATH,
      publicScheme: settings.publicScheme,
      ...(settings.publicPort !== undefined ? { publicPort: settings.publicPort } : {}),
    };
  };
  const edge =
    config.caddy_admin_url === ""
      ? undefined
      : createEdgeApplier({
          db,
          admin: createCaddyAdmin({ endpoint: config.caddy_admin_url }),
          routeOptions,
          now,
          log: app.log,
          retryMs: Math.max(config.ingress_edge_retry_ms, 100),
        });

  let timer: NodeJS.Timeout | undefined;
  let reconciled = false;
  let lastFull = 0;
  let ticking: Promise<void> | undefined;
  const tick = async (): Promise<void> => {
    const due = Date.now() - lastFull >= RECONCILE_EVERY_MS;
    if (edge !== undefined) {
      if (!reconciled || due) {
        try {
          await edge.reconcile();
          reconciled = true;
        } catch (error) {
          app.log.warn(
            { err: error instanceof Error ? error.message : String(error) },
            "edge reconcile failed; retrying",
          );
          // Route by route, so each change records its failure and backs off on its own.
          await edge.applyPending();
        }
      } else {
        await edge.applyPending();
      }
    }
    if (due) {
      lastFull = Date.now();
      await purgeIngressCredentials(db, now());
    }
  };
  const runTick = (): void => {
    if (ticking !== undefined) return;
    ticking = tick()
      .catch((error: unknown) =>
        app.log.warn(
          { err: error instanceof Error ? error.message : String(error) },
          "managed ingress pass failed",
        ),
      )
      .finally(() => {
        ticking = undefined;
      });
  };

  app.addHook("onListen", async () => {
    const address = app.server.address();
    if (address !== null && typeof address === "object") {
      listening = `http://${toUrlHost(address)}:${address.port}`;
    }
    if (edge !== undefined) runTick();
    if (config.ingress_edge_retry_ms > 0) {
      timer = setInterval(runTick, config.ingress_edge_retry_ms);
      timer.unref();
    }
  });
  app.addHook("onClose", async () => {
    if (timer !== undefined) clearInterval(timer);
    await ticking;
    await edge?.idle();
  });

  return {
    settings,
    signer,
    edge,
    consoleUrl,
    afterCommit() {
      edge?.kick();
    },
  };
}
