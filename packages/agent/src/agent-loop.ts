import { AgentApiError, type AgentClient, type AgentLease } from "./agent-client.js";
import { AGENT_VERSION, toHeartbeatInventory } from "./agent-inventory.js";
import { clearAgentState, loadAgentState, saveAgentState } from "./agent-state.js";
import type { OciExecutor } from "./create-oci-executor.js";
import { type LeasedTaskOutcome, runLeasedTask } from "./run-leased-task.js";

/** Where the loop reports what it does; never handed a credential. */
export type AgentLogger = (
  level: "info" | "warn" | "error",
  message: string,
  fields?: Readonly<Record<string, unknown>>,
) => void;

/** Options of {@link createAgentLoop}. */
export interface AgentLoopOptions {
  readonly client: AgentClient;
  /**
   * The execution core for a node: called with the node id once it is known (containers are
   * labelled with it and `rebuildState` lists only its own), and before that with the expected or
   * stored one, or undefined on a first registration.
   */
  readonly executorFor: (nodeId: string | undefined) => OciExecutor;
  /** Holds `agent-state.json` (0600): the node credential between runs. */
  readonly stateDir: string;
  /** Sent when registering; letters, digits, `.`, `_`, `-`. */
  readonly hostname: string;
  /**
   * A one-time bootstrap token, or a function minting one when it is needed (`gpuaas up` mints
   * its own). Used only when no stored credential is accepted.
   */
  readonly bootstrapToken?: string | (() => Promise<string>);
  /**
   * The node this agent runs for, when the caller knows it: a stored credential of this node is
   * reused even if the control plane's URL changed (a new port after a restart).
   */
  readonly nodeId?: string;
  /** Tasks run at once (launches of different instances, log reads); default 4. */
  readonly maxConcurrentTasks?: number;
  /** How long one lease poll waits for work, at most 25 s; default 25 s. */
  readonly leaseWaitMs?: number;
  /** How long `stop()` lets running tasks finish before abandoning them; default 10 s. */
  readonly shutdownGraceMs?: number;
  readonly agentVersion?: string;
  readonly log?: AgentLogger;
}

/** What `start()` found and did. */
export interface AgentLoopStarted {
  readonly node_id: string;
  /** True when the stored node credential was accepted; false after a registration. */
  readonly reused_credential: boolean;
  readonly heartbeat_interval_ms: number;
  readonly lease_ms: number;
  /** Managed containers found by label and reported to the control plane. */
  readonly containers: number;
  /** Labelled containers whose instance the control plane no longer knows. */
  readonly orphans: readonly string[];
  /** Auth directories an interrupted pull left behind, now deleted. */
  readonly auth_dirs_removed: number;
}

/** How the loop ended. */
export type AgentLoopExit =
  | { readonly reason: "stopped" }
  | { readonly reason: "failed"; readonly error: Error };

/** A running agent. */
export interface AgentLoop {
  /**
   * Rebuilds state from container labels, authenticates (the stored credential, else the
   * bootstrap token), reports the containers found, then heartbeats and long-polls for leases in
   * the background. Retries while the control plane is unreachable; rejects when it refuses.
   */
  start(): Promise<AgentLoopStarted>;
  /**
   * Stops leasing and heartbeating; running tasks get the grace period to finish and post their
   * results, and are abandoned after it (no result is posted: the lease runs out and the task is
   * handed out again, to handlers that are idempotent). Safe to call more than once.
   */
  stop(): Promise<void>;
  /** Settles when the loop has ended, by `stop()` or a fatal refusal (never rejects). */
  readonly done: Promise<AgentLoopExit>;
  /** Tasks running now. */
  inflight(): number;
}

/** The control plane answered, and the answer means the agent cannot go on as it is. */
export class AgentLoopError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "AgentLoopError";
  }
}

const MAX_LEASE_WAIT_MS = 25_000;
const MAX_BACKOFF_MS = 10_000;
const RESULT_RETRY_MS = 60_000;

interface RunningTask {
  readonly lease: AgentLease;
  readonly controller: AbortController;
  abandoned: boolean;
  settled: Promise<void>;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function describe(error: unknown): string {
  if (error instanceof AgentApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Creates the node agent's control loop on top of the execution core: register (or reuse the
 * stored node credential), heartbeat the inventory every `heartbeat_interval_ms`, long-poll
 * `POST /leases`, run each task through the executor while extending its lease, and post the
 * result (retried while the control plane is unreachable; a repeat is answered as a duplicate).
 * Delivery is at-least-once: a task whose lease ran out comes back and the handlers find their
 * own earlier work by label.
 *
 * @example
 * const loop = createAgentLoop({ client, executorFor: () => executor, stateDir, hostname, bootstrapToken });
 * await loop.start();
 * process.once("SIGTERM", () => void loop.stop());
 */
export function createAgentLoop(options: AgentLoopOptions): AgentLoop {
  const { client } = options;
  const log: AgentLogger = options.log ?? (() => undefined);
  const maxTasks = Math.max(1, Math.floor(options.maxConcurrentTasks ?? 4));
  const leaseWaitMs = Math.min(MAX_LEASE_WAIT_MS, Math.max(0, options.leaseWaitMs ?? 25_000));
  const graceMs = Math.max(0, options.shutdownGraceMs ?? 10_000);
  const agentVersion = options.agentVersion ?? AGENT_VERSION;
  const running = new Map<string, RunningTask>();
  const stopping = new AbortController();
  let heartbeatMs = 20_000;
  let leaseMs = 60_000;
  let nodeId: string | undefined = options.nodeId;
  let executorNode = nodeId;
  let executor = options.executorFor(nodeId);
  /** The executor of the node this agent now is (made again when registration named another). */
  const current = (): OciExecutor => {
    if (nodeId !== executorNode) {
      executor = options.executorFor(nodeId);
      executorNode = nodeId;
    }
    return executor;
  };
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let pollLoop: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;
  let exit: ((value: AgentLoopExit) => void) | undefined;
  const done = new Promise<AgentLoopExit>((resolve) => {
    exit = resolve;
  });

  async function inventory(): Promise<Record<string, unknown>> {
    return {
      hostname: options.hostname,
      ...toHeartbeatInventory(await current().runtimeStatus(), agentVersion),
    };
  }

  async function bootstrapToken(): Promise<string | undefined> {
    const source = options.bootstrapToken;
    return typeof source === "function" ? source() : source;
  }

  /** Registers with a bootstrap token and stores the credential. */
  async function register(current: Record<string, unknown>): Promise<void> {
    const token = await bootstrapToken();
    if (token === undefined || token === "") {
      throw new AgentLoopError(
        `no node credential in ${options.stateDir} is accepted by ${client.serverUrl}, and no bootstrap token was given: ask an operator for one (POST /api/v1/nodes/{node_id}/bootstrap-tokens) and pass it with --bootstrap-token`,
        "agent.bootstrap_required",
      );
    }
    const registration = await client.register({
      bootstrap_token: token,
      hostname: options.hostname,
      inventory: current,
    });
    client.setCredential(registration.node_credential);
    await saveAgentState(options.stateDir, {
      version: 1,
      server_url: client.serverUrl,
      node_id: registration.node_id,
      node_credential: registration.node_credential,
      registered_at: new Date().toISOString(),
    });
    nodeId = registration.node_id;
    heartbeatMs = registration.heartbeat_interval_ms;
    leaseMs = registration.lease_ms;
    log("info", "registered with the control plane", {
      node_id: registration.node_id,
      server: client.serverUrl,
    });
  }

  /** Uses the stored credential when it is for this control plane (or node) and still accepted. */
  async function authenticate(current: Record<string, unknown>): Promise<boolean> {
    const state = await loadAgentState(options.stateDir);
    const usable =
      state !== undefined &&
      (state.server_url === client.serverUrl ||
        (options.nodeId !== undefined && state.node_id === options.nodeId));
    if (usable) {
      client.setCredential(state.node_credential);
      nodeId ??= state.node_id;
      try {
        const answer = await client.heartbeat(current);
        nodeId = state.node_id;
        heartbeatMs = answer.heartbeat_interval_ms;
        leaseMs = answer.lease_ms;
        log("info", "reusing the stored node credential", { node_id: state.node_id });
        return true;
      } catch (error) {
        if (!(error instanceof AgentApiError) || error.status !== 401) throw error;
        log("warn", "the stored node credential was refused; registering again", {
          node_id: state.node_id,
          code: error.code,
        });
        client.setCredential(undefined);
        await clearAgentState(options.stateDir);
      }
    }
    await register(current);
    return false;
  }

  /** Retries a call while the control plane is unreachable (or 5xx), until stopped. */
  async function retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let backoff = 500;
    for (;;) {
      try {
        return await fn();
      } catch (error) {
        if (!(error instanceof AgentApiError) || !error.transient || stopping.signal.aborted) {
          throw error;
        }
        log("warn", `${what} failed; retrying`, { error: describe(error), retry_in_ms: backoff });
        await sleep(backoff, stopping.signal);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  async function reportContainers(): Promise<{
    containers: number;
    orphans: readonly string[];
    auth_dirs_removed: number;
  }> {
    const rebuilt = await current().rebuildState();
    const answer = await client.reportContainers(rebuilt.containers);
    if (answer.reconciled.length > 0 || answer.orphans.length > 0) {
      log("info", "container report reconciled", {
        reconciled: answer.reconciled,
        orphans: answer.orphans,
      });
    }
    return {
      containers: rebuilt.containers.length,
      orphans: answer.orphans,
      auth_dirs_removed: rebuilt.auth_dirs_removed,
    };
  }

  /** The control plane refused the credential mid-run: register again when a token can be had. */
  async function recoverCredential(error: AgentApiError): Promise<void> {
    if (typeof options.bootstrapToken !== "function") {
      throw new AgentLoopError(
        `the control plane refused the node credential (${error.code}); the node was registered again elsewhere or retired: give this agent a new bootstrap token`,
        error.code,
      );
    }
    await register(await inventory());
  }

  function fatal(error: unknown): void {
    if (stopping.signal.aborted) return;
    const failure = error instanceof Error ? error : new Error(String(error));
    log("error", "the agent stops", { error: describe(failure) });
    void shutdown().then(() => exit?.({ reason: "failed", error: failure }));
  }

  function scheduleHeartbeat(missed: boolean): void {
    if (stopping.signal.aborted) return;
    heartbeatTimer = setTimeout(() => {
      void beat(missed);
    }, heartbeatMs);
    heartbeatTimer.unref?.();
  }

  async function beat(missedBefore: boolean): Promise<void> {
    let missed = missedBefore;
    try {
      const answer = await client.heartbeat(await inventory());
      heartbeatMs = answer.heartbeat_interval_ms;
      leaseMs = answer.lease_ms;
      // Back after missed heartbeats: the node may have been marked offline and its instances
      // unknown; the container report settles them.
      if (missed) await reportContainers();
      missed = false;
    } catch (error) {
      if (error instanceof AgentApiError && error.status === 401) {
        try {
          await recoverCredential(error);
        } catch (recoverError) {
          return fatal(recoverError);
        }
      } else {
        missed = true;
        log("warn", "heartbeat failed", { error: describe(error) });
      }
    }
    scheduleHeartbeat(missed);
  }

  async function extendLease(task: RunningTask): Promise<void> {
    try {
      await client.extend(task.lease.task_id);
    } catch (error) {
      log("warn", "could not extend a lease", {
        task_id: task.lease.task_id,
        error: describe(error),
      });
    }
  }

  async function postResult(task: RunningTask, outcome: LeasedTaskOutcome): Promise<void> {
    const { lease } = task;
    const deadline = Date.now() + RESULT_RETRY_MS;
    let backoff = 500;
    for (;;) {
      try {
        const answer = await client.postResult(lease.task_id, outcome.status, outcome.result);
        log("info", "task result posted", {
          task_id: lease.task_id,
          kind: lease.kind,
          status: outcome.status,
          duplicate: answer.duplicate,
          instance: answer.instance,
          correlation_id: lease.correlation_id,
          ...(outcome.status === "failed" ? toErrorFields(outcome.result) : {}),
        });
        return;
      } catch (error) {
        const transient = error instanceof AgentApiError && error.transient;
        if (!transient || Date.now() > deadline || task.abandoned) {
          log("warn", "task result not recorded", {
            task_id: lease.task_id,
            kind: lease.kind,
            error: describe(error),
          });
          return;
        }
        await sleep(backoff);
        backoff = Math.min(5_000, backoff * 2);
      }
    }
  }

  function startTask(lease: AgentLease): void {
    if (running.has(lease.task_id)) {
      // A lease that ran out while this agent still works on it came back to the same node:
      // the run in progress posts the result for both deliveries.
      log("info", "task already running here; the new lease is covered", {
        task_id: lease.task_id,
        attempt: lease.attempt,
      });
      return;
    }
    const controller = new AbortController();
    const task: RunningTask = { lease, controller, abandoned: false, settled: Promise.resolve() };
    running.set(lease.task_id, task);
    log("info", "task leased", {
      task_id: lease.task_id,
      kind: lease.kind,
      instance_id: lease.instance_id,
      attempt: lease.attempt,
      correlation_id: lease.correlation_id,
    });
    task.settled = (async () => {
      const extender = setInterval(
        () => void extendLease(task),
        Math.max(1_000, Math.floor(leaseMs / 3)),
      );
      try {
        const outcome = await runLeasedTask(lease, current(), controller.signal);
        clearInterval(extender);
        if (task.abandoned) {
          log(
            "warn",
            "task abandoned at shutdown; its lease will run out and be handed out again",
            {
              task_id: lease.task_id,
              kind: lease.kind,
            },
          );
          return;
        }
        await postResult(task, outcome);
      } catch (error) {
        log("error", "task failed in the agent", {
          task_id: lease.task_id,
          error: describe(error),
        });
      } finally {
        clearInterval(extender);
        running.delete(lease.task_id);
      }
    })();
  }

  async function poll(): Promise<void> {
    let backoff = 500;
    while (!stopping.signal.aborted) {
      const free = maxTasks - running.size;
      if (free <= 0) {
        await Promise.race([...running.values()].map((task) => task.settled));
        continue;
      }
      try {
        const leases = await client.lease({ max: free, wait_ms: leaseWaitMs }, stopping.signal);
        backoff = 500;
        for (const lease of leases) startTask(lease);
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof AgentApiError && error.status === 401) {
          try {
            await recoverCredential(error);
            continue;
          } catch (recoverError) {
            return fatal(recoverError);
          }
        }
        log("warn", "lease poll failed", { error: describe(error), retry_in_ms: backoff });
        await sleep(backoff, stopping.signal);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  async function shutdown(): Promise<void> {
    stopped ??= (async () => {
      stopping.abort();
      if (heartbeatTimer !== undefined) clearTimeout(heartbeatTimer);
      await pollLoop;
      if (running.size > 0) {
        log("info", "waiting for running tasks", { tasks: running.size, grace_ms: graceMs });
        await Promise.race([
          Promise.all([...running.values()].map((task) => task.settled)),
          sleep(graceMs),
        ]);
      }
      if (running.size > 0) {
        for (const task of running.values()) {
          task.abandoned = true;
          task.controller.abort();
        }
        // Aborting ends readiness waits at once; a runtime command runs to its own timeout.
        await Promise.race([
          Promise.all([...running.values()].map((task) => task.settled)),
          sleep(2_000),
        ]);
      }
    })();
    return stopped;
  }

  return {
    async start() {
      const reused = await retrying("registration", async () => authenticate(await inventory()));
      const report = await retrying("the container report", reportContainers);
      if (nodeId === undefined)
        throw new AgentLoopError("registration gave no node id", "internal");
      scheduleHeartbeat(false);
      pollLoop = poll();
      return {
        node_id: nodeId,
        reused_credential: reused,
        heartbeat_interval_ms: heartbeatMs,
        lease_ms: leaseMs,
        ...report,
      };
    },
    async stop() {
      await shutdown();
      exit?.({ reason: "stopped" });
    },
    done,
    inflight: () => running.size,
  };
}

/** The code and message of a failed result's error body, for the log (already redacted). */
function toErrorFields(result: Readonly<Record<string, unknown>>): Record<string, string> {
  const error = result.error;
  if (typeof error !== "object" || error === null) return {};
  const { code, message } = error as { code?: unknown; message?: unknown };
  return {
    ...(typeof code === "string" ? { error: code } : {}),
    ...(typeof message === "string" ? { message: message.slice(0, 500) } : {}),
  };
}
