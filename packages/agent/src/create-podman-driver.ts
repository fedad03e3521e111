import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import {
  createPodmanApiRuntime,
  type PodmanApiRuntime,
  PodmanApiUnreachableError,
} from "./podman-api-runtime.js";
import {
  createPodmanRuntime,
  type PodmanRuntimeOptions,
  writeContainersConf,
} from "./podman-runtime.js";
import { createPodmanService, type PodmanService, pingPodman } from "./podman-service.js";

/** How the agent talks to podman: its libpod REST API (default) or its CLI. */
export const PODMAN_DRIVERS = ["api", "cli"] as const;
export type PodmanDriverName = (typeof PODMAN_DRIVERS)[number];

/** Options of {@link createPodmanDriver}: the CLI driver's, plus where the API is. */
export interface PodmanDriverOptions extends PodmanRuntimeOptions {
  /** `api` (the default when `socketPath` is set) or `cli`. */
  readonly driver?: PodmanDriverName;
  /** The libpod socket; without it the driver is the CLI. */
  readonly socketPath?: string;
  /**
   * True (default): the driver runs its own `podman system service` on `socketPath` and stops it
   * on `close()`. False: a service somebody else runs is already listening there.
   */
  readonly startService?: boolean;
  /** How long the service may take to answer after it is started; default 15 s. */
  readonly serviceStartTimeoutMs?: number;
}

/** The podman driver the agent uses: the API when it answers, the CLI otherwise. */
export interface PodmanDriver extends ContainerRuntime {
  /** The driver that serves requests now. */
  activeDriver(): PodmanDriverName;
  /**
   * Receives a sentence whenever the driver changes (the API service could not start, or answers
   * again). Sentences from before a listener was attached are delivered when it is.
   */
  onNotice(listener: (message: string) => void): void;
  /** Stops the service the driver started and closes its connections. */
  close(): Promise<void>;
}

const MAX_PENDING_NOTICES = 8;
const EXTERNAL_RETRY_MS = 10_000;

/** The lifecycle a driver may have beyond the port: something to stop, something to say. */
interface DriverLifecycle {
  close?: () => Promise<void> | void;
  onNotice?: (listener: (message: string) => void) => void;
}

/**
 * Stops whatever a runtime driver started (the podman API service); nothing for the others.
 *
 * @example
 * await closeRuntime(detected.driver)
 */
export async function closeRuntime(runtime: ContainerRuntime): Promise<void> {
  const { close } = runtime as DriverLifecycle;
  if (typeof close === "function") await close.call(runtime);
}

/**
 * Sends a driver's notices (for example "the podman API is not available: using the CLI") to a
 * listener, for drivers that have any.
 */
export function onRuntimeNotice(
  runtime: ContainerRuntime,
  listener: (message: string) => void,
): void {
  const { onNotice } = runtime as DriverLifecycle;
  if (typeof onNotice === "function") onNotice.call(runtime, listener);
}

/**
 * The podman driver: by default the libpod REST API on a unix socket, served by a
 * `podman system service` this driver supervises (or an existing socket), with the CLI driver as
 * the fallback whenever the API is not there. Both act on the same podman storage, so a fallback
 * in the middle of the agent's life is safe. Requests that never reached the API (no socket) are
 * sent through the CLI instead; requests that may have reached it are not repeated.
 *
 * @example
 * createPodmanDriver({ socketPath: toPodmanSocketPath(stateDir), containersConf: { path, ...DEFAULT_CONTAINERS_CONF } })
 */
export function createPodmanDriver(options: PodmanDriverOptions = {}): PodmanDriver {
  const cli = createPodmanRuntime(options);
  const socketPath = options.socketPath;
  const mode: PodmanDriverName = socketPath === undefined ? "cli" : (options.driver ?? "api");
  let listener: ((message: string) => void) | undefined;
  const pending: string[] = [];
  const notify = (message: string): void => {
    if (listener !== undefined) listener(message);
    else if (pending.length < MAX_PENDING_NOTICES) pending.push(message);
  };

  let api: PodmanApiRuntime | undefined;
  let service: PodmanService | undefined;
  if (mode === "api" && socketPath !== undefined) {
    const conf = options.containersConf;
    if (options.startService !== false) {
      service = createPodmanService({
        ...(options.binary !== undefined ? { binary: options.binary } : {}),
        socketPath,
        env: { ...options.env, ...(conf !== undefined ? { CONTAINERS_CONF: conf.path } : {}) },
        ...(conf !== undefined ? { beforeStart: () => writeContainersConf(conf) } : {}),
        ...(options.serviceStartTimeoutMs !== undefined
          ? { startTimeoutMs: options.serviceStartTimeoutMs }
          : {}),
        onExit: (message, restartInMs) =>
          notify(`${message}; starting it again in ${Math.ceil(restartInMs / 1000)} s`),
      });
    }
    api = createPodmanApiRuntime({
      socketPath,
      ...(service !== undefined ? { ensureService: service.ready } : {}),
      ...(options.binary !== undefined ? { binary: options.binary } : {}),
      ...(conf !== undefined ? { containersConf: conf } : {}),
      ...(options.plainHttpRegistries !== undefined
        ? { plainHttpRegistries: options.plainHttpRegistries }
        : {}),
      ...(options.commandTimeoutMs !== undefined
        ? { commandTimeoutMs: options.commandTimeoutMs }
        : {}),
      ...(options.pullTimeoutMs !== undefined ? { pullTimeoutMs: options.pullTimeoutMs } : {}),
      ...(options.maxLogBytes !== undefined ? { maxLogBytes: options.maxLogBytes } : {}),
    });
  }

  let fallbackReason: string | undefined;
  let externalAnswers = false;
  let externalRetryAt = 0;
  const apiReady = async (): Promise<void> => {
    if (service !== undefined) return service.ready();
    if (externalAnswers) return;
    if (Date.now() < externalRetryAt) throw new Error(fallbackReason ?? "no answer");
    if (socketPath !== undefined && (await pingPodman(socketPath, 2_000))) {
      externalAnswers = true;
      return;
    }
    externalRetryAt = Date.now() + EXTERNAL_RETRY_MS;
    throw new Error(`nothing answers GET /_ping on ${socketPath}`);
  };

  const select = async (): Promise<ContainerRuntime> => {
    if (api === undefined) return cli;
    try {
      await apiReady();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (fallbackReason === undefined) {
        fallbackReason = reason;
        notify(`the podman API is not available (${reason}): the agent drives the podman CLI`);
      }
      return cli;
    }
    if (fallbackReason !== undefined) {
      fallbackReason = undefined;
      notify("the podman API answers again: the agent drives it instead of the podman CLI");
    }
    return api;
  };

  /** Runs an operation on the selected driver; on the CLI when the API was not reachable. */
  const run = async <T>(fn: (runtime: ContainerRuntime) => Promise<T>): Promise<T> => {
    const target = await select();
    try {
      return await fn(target);
    } catch (error) {
      if (target !== api || !(error instanceof PodmanApiUnreachableError)) throw error;
      externalAnswers = false;
      return fn(cli);
    }
  };

  return {
    name: "podman",
    activeDriver: () => (api !== undefined && fallbackReason === undefined ? "api" : "cli"),
    onNotice(next) {
      listener = next;
      for (const message of pending.splice(0)) next(message);
    },
    async close() {
      await service?.stop();
      api?.close();
    },
    async probe(): Promise<RuntimeProbe> {
      const target = await select();
      const probe = await target.probe();
      if (target === cli && api !== undefined && fallbackReason !== undefined && probe.answering) {
        // The runtime works, through the slower path: the inventory says why.
        return { ...probe, problem: `podman API not available, using the CLI: ${fallbackReason}` };
      }
      return probe;
    },
    pullImage: (image, pullOptions) => run((runtime) => runtime.pullImage(image, pullOptions)),
    inspectImage: (image) => run((runtime) => runtime.inspectImage(image)),
    createContainer: (request) => run((runtime) => runtime.createContainer(request)),
    startContainer: (name) => run((runtime) => runtime.startContainer(name)),
    stopContainer: (name, seconds) => run((runtime) => runtime.stopContainer(name, seconds)),
    restartContainer: (name, seconds) => run((runtime) => runtime.restartContainer(name, seconds)),
    removeContainer: (name) => run((runtime) => runtime.removeContainer(name)),
    inspectContainer: (name) => run((runtime) => runtime.inspectContainer(name)),
    listContainers: (labels) => run((runtime) => runtime.listContainers(labels)),
    readLogs: (name, tail) => run((runtime) => runtime.readLogs(name, tail)),
    exec: (name, argv, timeoutMs) => run((runtime) => runtime.exec(name, argv, timeoutMs)),
    renderCreateArgs: (request) => cli.renderCreateArgs(request),
  };
}
