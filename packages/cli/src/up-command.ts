import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { probeHostGpus } from "@gpuaas/agent";
import {
  type CaddyEdge,
  type ControlPlane,
  type CuratedManifest,
  checkEdgeStart,
  ensureLocalNode,
  ensureRegistryTokenSigner,
  loadServerConfig,
  mintLocalBootstrapToken,
  SERVER_OPTIONS,
  type ServerConfig,
  startCaddyEdge,
  startControlPlane,
  toEdgeAdminAddress,
  toNodeName,
} from "@gpuaas/server";
import type { CliIo } from "./cli-io.js";
import { EXIT_CODES, type ExitCode } from "./exit-codes.js";
import { expandDocumentPaths } from "./expand-document-paths.js";
import { loadDocument } from "./load-document.js";
import { measureLocalHost, toAgentHostname } from "./measure-local-host.js";
import {
  type AgentRuntimeChoice,
  type AgentRuntimeDetection,
  createAgentLogger,
  describeRuntimeDriver,
  detectAgentRuntime,
  type StartedNodeAgent,
  startNodeAgent,
} from "./start-node-agent.js";
import { toServerFlags } from "./up-flags.js";

/** The curated profiles shipped with the product. */
export const DEFAULT_PROFILES_DIR = fileURLToPath(new URL("../../../profiles/", import.meta.url));
/** The built web console (`npm run build -w @gpuaas/web`), served by the control plane at `/`. */
export const DEFAULT_WEB_DIST_DIR = fileURLToPath(new URL("../../web/dist/", import.meta.url));

/**
 * Flags of `gpuaas up`, as commander hands them over: one per control-plane option (camelCase of
 * its flag, see `toServerFlags`) plus the command's own.
 */
export interface UpFlags extends Readonly<Record<string, unknown>> {
  readonly enableOciNodeTasks?: boolean;
  readonly config?: string;
  readonly profiles: string;
  /** False with `--no-agent`: no in-process agent for the local host. */
  readonly agent?: boolean;
  readonly agentRuntime?: AgentRuntimeChoice;
}

/** What `gpuaas up` decided about its in-process agent, for the start-up report. */
interface AgentReport {
  /** One line: the runtime, node and allocation, or why no agent runs. */
  readonly line: string;
  /** Why launches are (not) handed to node agents. */
  readonly launches: string;
}

/**
 * Runs `gpuaas up`: validates the configuration (every problem at once, before binding), makes
 * sure the registry token signer exists, starts the control plane, and runs one node agent in
 * process for this host (podman preferred, docker as fallback): the host becomes a node with one
 * allocation in the default project, so a launch runs on this machine. With the agent, launches
 * are handed to node agents unless the operator configured otherwise. Prints how to reach it all
 * and keeps running until SIGINT or SIGTERM. Whatever fails after the edge or the control plane
 * started, what started is stopped again before `runUp` returns or throws.
 */
export async function runUp(
  flags: UpFlags,
  io: CliIo,
  setExitCode: (code: ExitCode) => void,
  deps: UpDependencies = {},
): Promise<void> {
  const file = flags.config === undefined ? undefined : await readConfigFile(flags.config, io);
  if (file === null) return setExitCode(EXIT_CODES.usage);
  const serverFlags = toServerFlags(flags);
  const load = (nodeTasks: boolean | undefined) =>
    loadServerConfig({
      ...(file !== undefined ? { file } : {}),
      env: process.env,
      flags: {
        ...serverFlags,
        ...(nodeTasks !== undefined ? { oci_node_tasks_enabled: nodeTasks } : {}),
      },
    });
  let loaded = load(flags.enableOciNodeTasks === true ? true : undefined);
  const problems = loaded.ok
    ? (await checkEdgeStart(loaded.config)).map((message) => ({ option: "", message }))
    : loaded.problems;
  if (problems.length > 0) {
    io.stderr("gpuaas up: the configuration is invalid:\n");
    for (const problem of problems) {
      io.stderr(`  ${problem.option === "" ? "" : `${problem.option}: `}${problem.message}\n`);
    }
    return setExitCode(EXIT_CODES.usage);
  }
  if (!loaded.ok) return setExitCode(EXIT_CODES.usage);
  const curated = await loadCurated(flags.profiles, io);
  if (curated === undefined) return setExitCode(EXIT_CODES.usage);

  const agentDir = join(resolve(loaded.config.data_dir), "agent");
  const plainHttp = toPlainHttpRegistries(loaded.config.registry_url);
  const detection: AgentRuntimeDetection | undefined =
    flags.agent === false
      ? undefined
      : await detectAgentRuntime({
          choice: flags.agentRuntime ?? "auto",
          stateDir: agentDir,
          plainHttpRegistries: plainHttp,
        });
  // Fail-closed stays the default without an agent; with one, launches have somewhere to go.
  const explicit = isNodeTasksExplicit(flags, file);
  if (!explicit && detection?.selected !== undefined) {
    const enabled = load(true);
    if (enabled.ok) loaded = enabled;
  }
  let config = loaded.config;
  // Listen for the stop signal before anything is printed: a caller may send it the moment it
  // reads the summary.
  const signal = listenForStop();
  let plane: ControlPlane | undefined;
  let edge: CaddyEdge | undefined;
  let agent: Awaited<ReturnType<typeof startLocalAgent>> | undefined;
  try {
    const signer = await ensureRegistryTokenSigner(config);
    if (config.edge_caddy !== "") {
      try {
        edge = await startCaddyEdge({
          caddyBin: config.edge_caddy,
          stateDir: join(resolve(config.data_dir), "edge"),
          admin: toEdgeAdminAddress(config),
          listen: config.edge_listen,
          ...(config.edge_tls_cert_file !== ""
            ? {
                tls: {
                  certificateFile: config.edge_tls_cert_file,
                  keyFile: config.edge_tls_key_file,
                },
              }
            : {}),
          log: (line) => process.stderr.write(line),
          verbose: config.log_level === "debug" || config.log_level === "trace",
          onRestart: () => {
            plane?.reconcileEdge().catch((error: unknown) => {
              process.stderr.write(
                `gpuaas edge: re-adding routes failed (${error instanceof Error ? error.message : String(error)}); the edge applier retries\n`,
              );
            });
          },
        });
      } catch (error) {
        io.stderr(
          `gpuaas up: the edge (${config.edge_caddy}) did not start: ${error instanceof Error ? error.message : String(error)}\n`,
        );
        return setExitCode(EXIT_CODES.failed);
      }
      config = Object.freeze({ ...config, caddy_admin_url: edge.admin.endpoint });
    }
    plane = await startControlPlane({
      config,
      curated,
      logStream: process.stderr,
      webConsoleDir: DEFAULT_WEB_DIST_DIR,
    });
    agent = await (deps.startLocalAgent ?? startLocalAgent)(
      plane,
      config,
      detection,
      agentDir,
      explicit,
    );
    io.stdout(
      describe(
        plane.url,
        config,
        plane.adminTokenPath,
        plane.newAdminToken,
        plane.loaded.map((app) => app.slug),
        existsSync(join(DEFAULT_WEB_DIST_DIR, "index.html")),
        signer.certFile,
        agent.report,
        describeEdge(config, edge),
      ),
    );
    await signal.stopped;
  } finally {
    // A second Ctrl-C while stopping ends the process the usual way.
    signal.dispose();
    // The agent first: it may still post a result to the control plane while it stops. Then the
    // edge, the public entry point: no request reaches a closing control plane, and the edge goes
    // even if closing hangs and this process is killed (the edge's routes stay in the store).
    // The same order when a start failed half way: each step runs even if one before it failed.
    await stopInOrder([
      () => agent?.started?.loop.stop(),
      () => edge?.stop(),
      () => plane?.close(),
    ]);
  }
}

/** Seams of {@link runUp} for tests. */
export interface UpDependencies {
  /** Starts the in-process agent; the real one by default. */
  readonly startLocalAgent?: typeof startLocalAgent;
}

/** Resolves on the first SIGINT or SIGTERM until `dispose` removes the listeners. */
function listenForStop(): { readonly stopped: Promise<void>; dispose(): void } {
  let stop = (): void => undefined;
  const stopped = new Promise<void>((resolve) => {
    stop = () => resolve();
  });
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    stopped,
    dispose() {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}

/** Runs every stop step in order, each even when one before it threw; throws the first error. */
async function stopInOrder(steps: readonly (() => Promise<unknown> | undefined)[]): Promise<void> {
  let first: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first !== undefined) throw first.error;
}

/** The start-up report's lines on managed ingress and its edge. */
function describeEdge(config: ServerConfig, edge: CaddyEdge | undefined): string[] {
  const mapped = Object.keys(config.managed_ingress_host_map);
  const defaultPort = config.ingress_public_scheme === "https" ? 443 : 80;
  const port =
    config.ingress_public_port === 0 || config.ingress_public_port === defaultPort
      ? ""
      : `:${config.ingress_public_port}`;
  const map = config.managed_ingress_host_map;
  const ingress =
    mapped.length === 0
      ? "  ingress:  no host map: endpoints stay private (--managed-ingress-host-map)"
      : `  ingress:  ${mapped.map((key) => `${key} → ${map[key]}`).join(", ")}; opened at ${config.ingress_public_scheme}://<host>${port}`;
  if (edge !== undefined) {
    const scheme = config.edge_tls_cert_file === "" ? "http" : "https";
    return [
      ingress,
      `  edge:     caddy ${edge.version} (pid ${edge.pid()}) serving ${scheme}://${config.edge_listen}, admin API ${edge.admin.endpoint}; stopped with gpuaas up`,
    ];
  }
  if (config.caddy_admin_url !== "") {
    return [
      ingress,
      `  edge:     the Caddy at ${config.caddy_admin_url} (routes applied through its admin API)`,
    ];
  }
  return [
    ingress,
    "  edge:     none: routes are stored, no edge is driven (--edge-caddy or --caddy-admin-url)",
  ];
}

/** True when the operator set the node-task switch anywhere (flag, environment, config file). */
function isNodeTasksExplicit(flags: UpFlags, file: Record<string, unknown> | undefined): boolean {
  const env = process.env[SERVER_OPTIONS.oci_node_tasks_enabled.env];
  return (
    flags.enableOciNodeTasks === true ||
    (env !== undefined && env !== "") ||
    (file !== undefined && Object.hasOwn(file, "oci_node_tasks_enabled"))
  );
}

/** The loopback registry pulled over plain HTTP, when the platform registry is one. */
function toPlainHttpRegistries(registryUrl: string): string[] {
  const url = new URL(registryUrl);
  return url.protocol === "http:" ? [url.host] : [];
}

/** The control plane's URL as the in-process agent dials it: loopback when listening on all. */
function toAgentServerUrl(plane: ControlPlane): string {
  const address = plane.app.server.address();
  if (address !== null && typeof address === "object") {
    const wildcard = address.address === "0.0.0.0" || address.address === "::";
    if (wildcard) return `http://127.0.0.1:${address.port}`;
  }
  return plane.url;
}

/**
 * Registers this host as a node with one allocation in the default project (found again on a
 * restart) and starts the in-process agent against the control plane's own URL, with a bootstrap
 * token minted in memory only when the stored node credential is missing or refused.
 */
async function startLocalAgent(
  plane: ControlPlane,
  config: ServerConfig,
  detection: AgentRuntimeDetection | undefined,
  agentDir: string,
  explicit: boolean,
): Promise<{ readonly report: AgentReport; readonly started?: StartedNodeAgent }> {
  const flag = SERVER_OPTIONS.oci_node_tasks_enabled;
  const launches = (agentRuns = false): string => {
    if (!config.oci_node_tasks_enabled) {
      return explicit
        ? `refused: node tasks are disabled by configuration (${flag.env})`
        : `refused until a node agent runs here, or enable them with ${flag.flag}`;
    }
    if (explicit) return "handed to node agents (enabled by configuration)";
    return agentRuns
      ? "handed to node agents (enabled by default: the in-process agent runs)"
      : "handed to node agents (enabled because a runtime answers), but the in-process agent did not start: they wait until an agent of this node joins";
  };
  if (detection === undefined) {
    return { report: { line: "not started (--no-agent)", launches: launches() } };
  }
  const selected = detection.selected;
  if (selected === undefined) {
    return {
      report: { line: `not started: ${detection.reason ?? "no runtime"}`, launches: launches() },
    };
  }
  const agentHostname = toAgentHostname(hostname());
  const measured = measureLocalHost(toNodeName(agentHostname), await probeHostGpus());
  if (measured.shape === undefined) {
    return {
      report: { line: `not started: ${measured.problem ?? ""}`, launches: launches() },
    };
  }
  try {
    const local = await ensureLocalNode(plane.store, {
      project_id: plane.projectId,
      host: measured.shape,
    });
    const started = await startNodeAgent({
      serverUrl: toAgentServerUrl(plane),
      stateDir: agentDir,
      runtime: selected,
      hostname: agentHostname,
      nodeId: local.node.id,
      bootstrapToken: () => mintLocalBootstrapToken(plane.store, local.node.id),
      log: createAgentLogger((line) => process.stderr.write(line), config.log_level),
    });
    const { allocation } = local;
    const probe = selected.probe;
    const version = probe.server_version ?? probe.client_version ?? "?";
    const accelerator =
      allocation.accelerator.vendor === "none"
        ? "no accelerator"
        : `${allocation.accelerator.vendor} GPUs ${allocation.gpu_indices.join(",")}`;
    const line = [
      `${probe.name} ${version}${probe.oci_runtime !== undefined ? ` (${probe.oci_runtime})` : ""}${describeRuntimeDriver(selected.driver)}, node ${local.node.name} (${local.node.id}${local.created_node ? ", new" : ""})`,
      `            allocation ${allocation.id} in the default project${local.created_allocation ? " (new)" : ""}: ${allocation.cpu_architecture}, ${accelerator}, ${allocation.cpu_cores} CPU cores, ${allocation.memory_gib} GiB, ${allocation.storage_modes.join(" + ")}`,
      `            ${started.started.reused_credential ? "reused its stored node credential" : "registered with a one-time bootstrap token"} (state in ${agentDir})`,
    ].join("\n");
    return { report: { line, launches: launches(true) }, started };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { report: { line: `not started: ${message}`, launches: launches() } };
  }
}

async function readConfigFile(path: string, io: CliIo): Promise<Record<string, unknown> | null> {
  try {
    const value: unknown = JSON.parse(await readFile(path, "utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
    io.stderr(`gpuaas up: ${path}: the config file must hold a JSON object\n`);
  } catch (error) {
    io.stderr(`gpuaas up: ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  return null;
}

async function loadCurated(dir: string, io: CliIo): Promise<CuratedManifest[] | undefined> {
  const curated: CuratedManifest[] = [];
  for (const entry of await expandDocumentPaths([dir])) {
    if (entry.issue !== undefined) {
      io.stderr(`gpuaas up: ${entry.file}: ${entry.issue.message}\n`);
      return undefined;
    }
    const load = await loadDocument(entry.file);
    if (!load.ok) {
      io.stderr(
        `gpuaas up: ${entry.file}: ${load.issues.map((issue) => issue.message).join("; ")}\n`,
      );
      return undefined;
    }
    curated.push({
      source: entry.file,
      manifest: load.document.value as CuratedManifest["manifest"],
    });
  }
  return curated;
}

function describe(
  url: string,
  config: ServerConfig,
  tokenPath: string,
  token: string | undefined,
  apps: readonly string[],
  consoleBuilt: boolean,
  certFile: string,
  agent: AgentReport,
  edge: readonly string[],
): string {
  const store = config.database_url !== undefined ? "PostgreSQL" : `PGlite in ${config.data_dir}`;
  const lines = [
    `gpuaas control plane listening on ${url}`,
    `  store:    ${store}`,
    `  catalog:  ${apps.join(", ")}`,
    token !== undefined
      ? `  operator token (shown once; also in ${tokenPath}, mode 0600):\n    ${token}`
      : `  operator token: in ${tokenPath}`,
    consoleBuilt
      ? token !== undefined
        ? `  console:  ${url}/#token=${token}  (login link; signing in removes the token from the address bar)`
        : `  console:  ${url}/  (sign in with the token in ${tokenPath})`
      : "  console:  not built; run npm run build -w @gpuaas/web",
    `  registry: ${config.registry_url}; its auth.token settings: realm ${url}/api/v1/registry/token,`,
    `            service ${config.registry_token_service}, issuer ${config.registry_token_issuer}, rootcertbundle ${certFile}`,
    `  agent:    ${agent.line}`,
    `  launches: ${agent.launches}`,
    ...edge,
    "",
    "  try:",
    `    curl -s -H "Authorization: Bearer $(cat ${tokenPath})" ${url}/api/v1/apps/catalog`,
    `    curl -s ${url}/api/v1/openapi.json`,
    "",
  ];
  return `${lines.join("\n")}\n`;
}
