import { join } from "node:path";
import {
  type AgentLogger,
  type AgentLoop,
  type AgentLoopStarted,
  type ContainerRuntime,
  createAgentClient,
  createAgentLoop,
  createDockerRuntime,
  createNerdctlRuntime,
  createOciExecutor,
  createPodmanRuntime,
  DEFAULT_CONTAINERS_CONF,
  type DetectedRuntime,
  detectRuntimes,
  loadAgentConfig,
  type RuntimeProbe,
  selectRuntime,
} from "@gpuaas/agent";

/** Which runtime the agent drives: the first answering one (podman, docker, nerdctl) or one. */
export const AGENT_RUNTIME_CHOICES = ["auto", "podman", "docker", "nerdctl"] as const;
export type AgentRuntimeChoice = (typeof AGENT_RUNTIME_CHOICES)[number];

/** The agent's directories under its state directory. */
export function toAgentPaths(stateDir: string): {
  readonly workloadsRoot: string;
  readonly projectStorageRoot: string;
  readonly secretsDir: string;
  readonly containersConf: string;
} {
  return {
    workloadsRoot: join(stateDir, "workloads"),
    projectStorageRoot: join(stateDir, "projects"),
    secretsDir: join(stateDir, "secrets"),
    containersConf: join(stateDir, "containers.conf"),
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
}): Promise<AgentRuntimeDetection> {
  const { containersConf } = toAgentPaths(input.stateDir);
  const all: Record<Exclude<AgentRuntimeChoice, "auto">, () => ContainerRuntime> = {
    podman: () =>
      createPodmanRuntime({
        containersConf: { path: containersConf, ...DEFAULT_CONTAINERS_CONF },
        plainHttpRegistries: input.plainHttpRegistries,
      }),
    docker: () => createDockerRuntime(),
    nerdctl: () => createNerdctlRuntime({ plainHttpRegistries: input.plainHttpRegistries }),
  };
  const names =
    input.choice === "auto" ? (["podman", "docker", "nerdctl"] as const) : [input.choice];
  const detected = await detectRuntimes(names.map((name) => all[name]()));
  const selected = selectRuntime(detected);
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
  const loop = createAgentLoop({
    client: createAgentClient({ serverUrl: options.serverUrl }),
    executorFor,
    stateDir: options.stateDir,
    hostname: options.hostname,
    ...(options.bootstrapToken !== undefined ? { bootstrapToken: options.bootstrapToken } : {}),
    ...(options.nodeId !== undefined ? { nodeId: options.nodeId } : {}),
    log,
  });
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
