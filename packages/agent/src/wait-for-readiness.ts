import { connect } from "node:net";
import type { OciLaunchSpec } from "@gpuaas/engines";

/** One readiness probe of a launch spec. */
export type ReadinessProbe = OciLaunchSpec["readiness"][number];

/** How one probe went. */
export interface ReadinessOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly attempts: number;
  readonly elapsed_ms: number;
  /** `http://127.0.0.1:<port><path>` or `tcp://127.0.0.1:<port>`. */
  readonly target: string;
  readonly last_status?: number;
  readonly last_error?: string;
}

/** The result of waiting: every probe's outcome, and whether the container stopped meanwhile. */
export interface ReadinessReport {
  readonly ok: boolean;
  readonly outcomes: readonly ReadinessOutcome[];
  readonly container_exited: boolean;
}

/** What waiting needs from its surroundings; injectable so tests control time. */
export interface ReadinessDeps {
  /** Host port of each endpoint name. */
  readonly hostPorts: ReadonlyMap<string, number>;
  /** False once the container is no longer running (checked at most once a second). */
  readonly isRunning: () => Promise<boolean>;
  readonly fetch?: typeof fetch;
  readonly signal?: AbortSignal;
}

const ATTEMPT_TIMEOUT_MS = 5_000;
const ALIVE_CHECK_MS = 1_000;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

function tcpConnect(port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("connect timed out"));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    const code = typeof cause?.code === "string" ? cause.code : undefined;
    return code ?? (typeof cause?.message === "string" ? cause.message : error.message);
  }
  return String(error);
}

/**
 * Probes each readiness check in turn on the loopback host port until it passes or its own budget
 * (`timeout_seconds`) runs out, at `interval_seconds`. HTTP passes on an expected status (redirects
 * are not followed); TCP passes on connect. Stops early when the container exits.
 */
export async function waitForReadiness(
  probes: readonly ReadinessProbe[],
  deps: ReadinessDeps,
): Promise<ReadinessReport> {
  const doFetch = deps.fetch ?? fetch;
  const outcomes: ReadinessOutcome[] = [];
  let lastAliveCheck = 0;
  for (const probe of probes) {
    const started = Date.now();
    const deadline = started + probe.timeout_seconds * 1000;
    const port = deps.hostPorts.get(probe.endpoint);
    const target =
      probe.type === "http"
        ? `http://127.0.0.1:${port ?? 0}${probe.path}`
        : `tcp://127.0.0.1:${port ?? 0}`;
    let attempts = 0;
    let lastStatus: number | undefined;
    let lastError: string | undefined;
    let ok = false;
    if (port === undefined) {
      lastError = `endpoint ${probe.endpoint} has no published host port`;
    }
    while (port !== undefined && !ok && Date.now() < deadline && deps.signal?.aborted !== true) {
      attempts += 1;
      const budget = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
      try {
        if (probe.type === "http") {
          const response = await doFetch(target, {
            redirect: "manual",
            signal: AbortSignal.timeout(budget),
          });
          await response.body?.cancel().catch(() => undefined);
          lastStatus = response.status;
          lastError = undefined;
          ok = probe.expect_status.includes(response.status);
        } else {
          await tcpConnect(port, budget);
          lastError = undefined;
          ok = true;
        }
      } catch (error) {
        lastError = describe(error);
      }
      if (ok) break;
      if (Date.now() - lastAliveCheck >= ALIVE_CHECK_MS) {
        lastAliveCheck = Date.now();
        if (!(await deps.isRunning())) {
          outcomes.push({
            name: probe.name,
            ok: false,
            attempts,
            elapsed_ms: Date.now() - started,
            target,
            ...(lastStatus !== undefined ? { last_status: lastStatus } : {}),
            ...(lastError !== undefined ? { last_error: lastError } : {}),
          });
          return { ok: false, outcomes, container_exited: true };
        }
      }
      const wait = Math.min(probe.interval_seconds * 1000, deadline - Date.now());
      if (wait > 0) await sleep(wait, deps.signal);
    }
    outcomes.push({
      name: probe.name,
      ok,
      attempts,
      elapsed_ms: Date.now() - started,
      target,
      ...(lastStatus !== undefined ? { last_status: lastStatus } : {}),
      ...(lastError !== undefined ? { last_error: lastError } : {}),
    });
    if (!ok) return { ok: false, outcomes, container_exited: false };
  }
  return { ok: true, outcomes, container_exited: false };
}
