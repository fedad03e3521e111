import { hostname } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { isLoopbackRegistry, toServerUrl } from "@gpuaas/agent";
import type { CliIo } from "./cli-io.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";
import { toAgentHostname } from "./measure-local-host.js";
import {
  AGENT_PODMAN_DRIVER_CHOICES,
  type AgentRuntimeChoice,
  createAgentLogger,
  describeRuntimeDriver,
  detectAgentRuntime,
  startNodeAgent,
} from "./start-node-agent.js";

/** The environment variable that may carry the bootstrap token instead of the command line. */
export const BOOTSTRAP_TOKEN_ENV = "GPUAAS_AGENT_BOOTSTRAP_TOKEN";

/** Flags of `gpuaas agent run`, as commander hands them over. */
export interface AgentRunFlags {
  readonly server: string;
  readonly bootstrapToken?: string;
  readonly stateDir: string;
  readonly runtime: AgentRuntimeChoice;
  readonly plainHttpRegistry?: readonly string[];
  readonly pipIndexUrl?: string;
  readonly hostname?: string;
  readonly logLevel: string;
  /** `api` (default) or `cli`; the environment's `GPUAAS_AGENT_PODMAN_DRIVER` when absent. */
  readonly podmanDriver?: string;
  /** An existing libpod socket; the environment's `GPUAAS_AGENT_PODMAN_SOCKET` when absent. */
  readonly podmanSocket?: string;
}

/**
 * Runs `gpuaas agent run`: checks the flags (every problem at once), picks the container runtime
 * (podman preferred, docker as fallback, or the one asked for), joins the control plane with the
 * stored node credential or the bootstrap token, and works leases until SIGINT or SIGTERM, when it
 * lets running tasks finish (or abandons them after a grace period; their leases come back).
 */
export async function runAgent(
  flags: AgentRunFlags,
  io: CliIo,
  setExitCode: (code: ExitCode) => void,
): Promise<void> {
  const problems: string[] = [];
  let serverUrl = "";
  try {
    serverUrl = toServerUrl(flags.server);
  } catch (error) {
    problems.push(`--server: ${error instanceof Error ? error.message : String(error)}`);
  }
  const plainHttp = flags.plainHttpRegistry ?? [];
  for (const registry of plainHttp) {
    if (!isLoopbackRegistry(registry)) {
      problems.push(
        `--plain-http-registry: ${registry} is not on a loopback address; plain HTTP is allowed only there`,
      );
    }
  }
  if (flags.pipIndexUrl !== undefined && !/^https?:\/\//.test(flags.pipIndexUrl)) {
    problems.push("--pip-index-url: must be an http(s) URL");
  }
  const podmanDriver = flags.podmanDriver;
  if (
    podmanDriver !== undefined &&
    !(AGENT_PODMAN_DRIVER_CHOICES as readonly string[]).includes(podmanDriver)
  ) {
    problems.push(`--podman-driver: must be one of ${AGENT_PODMAN_DRIVER_CHOICES.join(", ")}`);
  }
  if (flags.podmanSocket !== undefined && !isAbsolute(flags.podmanSocket)) {
    problems.push("--podman-socket: must be an absolute path");
  }
  if (problems.length > 0) {
    io.stderr("gpuaas agent run: the options are invalid:\n");
    for (const problem of problems) io.stderr(`  ${problem}\n`);
    return setExitCode(EXIT_CODES.usage);
  }
  const stateDir = resolve(flags.stateDir);
  const bootstrapToken = flags.bootstrapToken ?? process.env[BOOTSTRAP_TOKEN_ENV];
  const log = createAgentLogger((line) => io.stderr(line), flags.logLevel);
  // Listen for the stop signal before anything is printed: a caller may send it the moment it
  // reads the start-up lines.
  const signalled = new Promise<"signal">((resolveSignal) => {
    const stop = () => resolveSignal("signal");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const detection = await detectAgentRuntime({
    choice: flags.runtime,
    stateDir,
    plainHttpRegistries: plainHttp,
    ...(podmanDriver === "api" || podmanDriver === "cli" ? { podmanDriver } : {}),
    ...(flags.podmanSocket !== undefined ? { podmanSocket: flags.podmanSocket } : {}),
  });
  if (detection.selected === undefined) {
    io.stderr(`gpuaas agent run: ${detection.reason ?? "no container runtime"}\n`);
    return setExitCode(EXIT_CODES.failed);
  }
  let agent: Awaited<ReturnType<typeof startNodeAgent>>;
  try {
    agent = await startNodeAgent({
      serverUrl,
      stateDir,
      runtime: detection.selected,
      hostname: toAgentHostname(flags.hostname ?? hostname()),
      ...(bootstrapToken !== undefined && bootstrapToken !== "" ? { bootstrapToken } : {}),
      ...(flags.pipIndexUrl !== undefined ? { pipIndexUrl: flags.pipIndexUrl } : {}),
      log,
    });
  } catch (error) {
    io.stderr(`gpuaas agent run: ${error instanceof Error ? error.message : String(error)}\n`);
    return setExitCode(EXIT_CODES.failed);
  }
  const { started, runtime } = agent;
  io.stdout(
    [
      `gpuaas agent: node ${started.node_id} on ${serverUrl} (${started.reused_credential ? "stored credential" : "registered with the bootstrap token"})`,
      `  runtime: ${runtime.name} ${runtime.server_version ?? runtime.client_version ?? "?"}${describeRuntimeDriver(detection.selected.driver)}`,
      `  state:   ${stateDir}`,
      `  found:   ${started.containers} managed container(s)${started.orphans.length > 0 ? `, ${started.orphans.length} of unknown instances` : ""}`,
      "",
    ].join("\n"),
  );
  const ended = await Promise.race([signalled, agent.loop.done]);
  if (ended === "signal") {
    await agent.loop.stop();
    return;
  }
  if (ended.reason === "failed") {
    io.stderr(`gpuaas agent run: ${ended.error.message}\n`);
    setExitCode(EXIT_CODES.failed);
  }
}
