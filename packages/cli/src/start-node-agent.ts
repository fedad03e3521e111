import { join } from "node:path";
import {
  type AgentLogger,
  type AgentLoop,
  type AgentLoopStarted,
  type ContainerRuntime,
  closeRuntime,
  closeUnselected,
  createAgentClient,
  createAgentLoop,
  createDockerRuntime,
  createNerdctlRuntime,
  createOciExecutor,
  createPodmanDriver,
  DEFAULT_CONTAINERS_CONF,
  type DetectedRuntime,
  detectRuntimes,
  loadAgentConfig,
  onRuntimeNotice,
  PODMAN_DRIVERS,
  type PodmanDriverName,
  type RuntimeProbe,
  selectRuntime,
  toPodmanSocketPath,
} from "@gpuaas/agent";

/** Which runtime the agent drives: the first answering one (podman, docker, nerdctl) or one. */
export const AGENT_RUNTIME_CHOICES = ["auto", "podman", "docker", "nerdctl"] as const;
export type AgentRuntimeChoice = (typeof AGENT_RUNTIME_CHOICES)[number];

/** How the agent drives podman: `api` (libpod REST socket, the default) or `cli`. */
export const AGENT_PODMAN_DRIVER_CHOICES = PODMAN_DRIVERS;
/** Environment variables choosing the podman driver where no flag does (`gpuaas up`). */
export const PODMAN_DRIVER_ENV = "GPUAAS_AGENT_PODMAN_DRIVER";
export const PODMAN_SOCKET_ENV = "GPUAAS_AGENT_PODMAN_SOCKET";

/** The agent's directories under its state directory. */
export function toAgentPaths(stateDir: string): {
  readonly workloadsRoot: string;
  readonly projectStorageRoot: string;
  readonly secretsDir: string;
  readonly containersConf: string;
  /** Where the agent's own `podman system service` listens (0700 directory). */
  readonly podmanSocket: string;
} {
  return {
    workloadsRoot: join(stateDir, "workloads"),
    projectStorageRoot: join(stateDir, "projects"),
    secretsDir: join(stateDir, "secrets"),
    containersConf: join(stateDir, "containers.conf"),
    podmanSocket: toPodmanSocketPath(stateDir),
  };
}

/** What runtime detection found: the runtime to use, or why there is none. */
export interface AgentRuntimeDetection {
  readonly selected?: DetectedRuntime;
  readonly probes: readonly RuntimeProbe[];
  /** One sentence saying why no runtime is used, when none is. */
  readonly reason?: string;
}

/**
 * Probes the container runtimes the agent may drive (`version` and `info` only) and picks the
 * first answering one in order of preference: podman, then docker, then nerdctl; or only the one
 * asked for.
 */
export async function detectAgentRuntime(input: {
  readonly choice: AgentRuntimeChoice;
  readonly stateDir: string;
  /** `host:port` of loopback registries pulled over plain HTTP. */
  readonly plainHttpRegistries: readonly string[];
  /** podman through its libpod API (default) or its CLI; default from `GPUAAS_AGENT_PODMAN_DRIVER`. */
  readonly podmanDriver?: PodmanDriverName;
  /** An existing libpod socket instead of the agent's own service; default from `GPUAAS_AGENT_PODMAN_SOCKET`. */
  readonly podmanSocket?: string;
}): Promise<AgentRuntimeDetection> {
  const paths = toAgentPaths(input.stateDir);
  const podmanDriver = input.podmanDriver ?? nonEmpty(process.env[PODMAN_DRIVER_ENV]);
  const podmanSocket = input.podmanSocket ?? nonEmpty(process.env[PODMAN_SOCKET_ENV]);
  // The same validation as the executor's configuration, every problem at once.
  const { config, issues } = loadAgentConfig(
    {
      workloadsRoot: paths.workloadsRoot,
      projectStorageRoot: paths.projectStorageRoot,
      secretsDir: paths.secretsDir,
      ...(podmanDriver !== undefined ? { podmanDriver: podmanDriver as PodmanDriverName } : {}),
      ...(podmanSocket !== undefined ? { podmanSocket } : {}),
    },
    process.arch,
  );
  if (config === undefined) {
    return {
      probes: [],
      reason: `the agent configuration is invalid: ${issues.map((issue) => `${issue.pointer}: ${issue.message}`).join("; ")}`,
    };
  }
  const all: Record<Exclude<AgentRuntimeChoice, "auto">, () => ContainerRuntime> = {
    podman: () =>
      createPodmanDriver({
        driver: config.podmanDriver,
        socketPath: config.podmanSocket ?? paths.podmanSocket,
        startService: config.podmanSocket === undefined,
        containersConf: { path: paths.containersConf, ...DEFAULT_CONTAINERS_CONF },
        plainHttpRegistries: input.plainHttpRegistries,
      }),
    docker: () => createDockerRuntime(),
    nerdctl: () => createNerdctlRuntime({ plainHttpRegistries: input.plainHttpRegistries }),
  };
  const names =
    input.choice === "auto" ? (["podman", "docker", "nerdctl"] as const) : [input.choice];
  const detected = await detectRuntimes(names.map((name) => all[name]()));
  const selected = selectRuntime(detected);
  // A podman API service started only to probe podman is not left running for nothing.
  await closeUnselected(detected, selected);
  const probes = detected.map((runtime) => runtime.probe);
  if (selected !== undefined) return { selected, probes };
  const why = probes
    .map((probe) =>
      probe.present
        ? `${probe.name} does not answer (${(probe.problem ?? "info failed").split("\n")[0]?.slice(0, 160)})`
        : `${probe.name} is not installed`,
    )
    .join("; ");
  return { probes, reason: `no container runtime answers: ${why}` };
}

/**
 * How the agent talks to its runtime, for the start-up summary: `via its API socket` or
 * `via its CLI` for podman, nothing for the others.
 */
export function describeRuntimeDriver(driver: ContainerRuntime): string {
  const active = (driver as { activeDriver?: () => PodmanDriverName }).activeDriver;
  if (typeof active !== "function") return "";
  return active.call(driver) === "api" ? " via its API socket" : " via its CLI";
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/** Options of {@link startNodeAgent}. */
export interface NodeAgentOptions {
  readonly serverUrl: string;
  readonly stateDir: string;
  readonly runtime: DetectedRuntime;
  readonly hostname: string;
  readonly bootstrapToken?: string | (() => Promise<string>);
  readonly nodeId?: string;
  readonly pipIndexUrl?: string;
  readonly log: AgentLogger;
  /** Bounds `start()` (registration and the container report); default 60 s. */
  readonly startTimeoutMs?: number;
}

/** A started agent. */
export interface StartedNodeAgent {
  readonly loop: AgentLoop;
  readonly started: AgentLoopStarted;
  readonly runtime: RuntimeProbe;
}

/**
 * Builds the execution core for the detected runtime (configuration validated, every problem at
 * once) and starts the agent loop against the control plane; stops it again when the start fails.
 */
export async function startNodeAgent(options: NodeAgentOptions): Promise<StartedNodeAgent> {
  const paths = toAgentPaths(options.stateDir);
  const { runtime, log } = options;
  const executorFor = (nodeId: string | undefined) => {
    const { config, issues } = loadAgentConfig(
      {
        workloadsRoot: paths.workloadsRoot,
        projectStorageRoot: paths.projectStorageRoot,
        secretsDir: paths.secretsDir,
        ...(nodeId !== undefined ? { nodeId } : {}),
        ...(options.pipIndexUrl !== undefined ? { pipIndexUrl: options.pipIndexUrl } : {}),
      },
      process.arch,
    );
    if (config === undefined) {
      throw new Error(
        `the agent configuration is invalid: ${issues.map((issue) => `${issue.pointer}: ${issue.message}`).join("; ")}`,
      );
    }
    return createOciExecutor({
      runtime: runtime.driver,
      config,
      onEvent: (event) =>
        log("info", `task ${event.phase}: ${event.message}`, {
          instance_id: event.instance_id,
          correlation_id: event.correlation_id,
          ...(event.kind === "warning" ? { warning: true } : {}),
        }),
    });
  };
  // Into the agent's log, once per change: podman's API is not there and the CLI took over (or
  // the API is back).
  onRuntimeNotice(runtime.driver, (message) => log("warn", message));
  const inner = createAgentLoop({
    client: createAgentClient({ serverUrl: options.serverUrl }),
    executorFor,
    stateDir: options.stateDir,
    hostname: options.hostname,
    ...(options.bootstrapToken !== undefined ? { bootstrapToken: options.bootstrapToken } : {}),
    ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
    log,
  });
  // The driver's own processes (podman's API service) stop with the agent, however it ends.
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= closeRuntime(runtime.driver).catch((error: unknown) =>
      log("warn", "stopping the runtime driver failed", {
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    return closed;
  };
  void inner.done.then(close);
  const loop: AgentLoop = {
    ...inner,
    async stop() {
      await inner.stop();
      // The service gets its SIGTERM now; its exit is not waited for here, so that whoever
      // stops the agent (gpuaas up: the control plane next) goes on exactly as without it.
      void close();
    },
  };
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const started = await Promise.race([
      loop.start(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Error(`the agent did not join ${options.serverUrl} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return { loop, started, runtime: runtime.probe };
  } catch (error) {
    await loop.stop();
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
const CONFIG_LEVELS: Readonly<Record<string, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/**
 * A logger writing one JSON line per entry (pino's shape: numeric `level`, `time`, `msg`) with
 * `name: "agent"`, dropping entries below `minLevel`.
 */
export function createAgentLogger(write: (line: string) => void, minLevel: string): AgentLogger {
  const threshold = CONFIG_LEVELS[minLevel] ?? LEVELS.info;
  return (level, message, fields) => {
    if (LEVELS[level] < threshold) return;
    write(
      `${JSON.stringify({ level: LEVELS[level], time: Date.now(), name: "agent", msg: message, ...fields })}\n`,
    );
  };
}
