export {
  AgentApiError,
  type AgentClient,
  type AgentClientOptions,
  type AgentLease,
  type ContainerReportAnswer,
  createAgentClient,
  type HeartbeatAnswer,
  type LeasePullCredential,
  type Registration,
  type ResultAnswer,
  toServerUrl,
} from "./agent-client.js";
export {
  AGENT_CONFIG_DEFAULTS,
  type AgentConfig,
  type AgentConfigInput,
  type ConfigIssue,
  loadAgentConfig,
} from "./agent-config.js";
export type { AgentDeps, LaunchDeps, TaskEvent } from "./agent-deps.js";
export {
  AGENT_ERROR_CODES,
  AGENT_ERRORS,
  type AgentError,
  type AgentErrorCode,
  type AgentErrorInfo,
  type AgentIssue,
  type TaskPhase,
} from "./agent-errors.js";
export { AGENT_VERSION, toHeartbeatInventory } from "./agent-inventory.js";
export {
  type AgentLogger,
  type AgentLoop,
  AgentLoopError,
  type AgentLoopExit,
  type AgentLoopOptions,
  type AgentLoopStarted,
  createAgentLoop,
} from "./agent-loop.js";
export {
  AGENT_STATE_FILE,
  type AgentState,
  clearAgentState,
  loadAgentState,
  saveAgentState,
} from "./agent-state.js";
export { checkLaunchSpec } from "./check-launch-spec.js";
export { type CliRuntimeOptions, classifyFailure } from "./cli-runtime.js";
export {
  type BindMount,
  type ContainerCreateRequest,
  type ContainerDetails,
  type ContainerRuntime,
  type ContainerState,
  type ExecResult,
  type GpuRequest,
  type ImageDetails,
  type PublishedPort,
  RUNTIME_NAMES,
  RuntimeCommandError,
  type RuntimeFailureKind,
  type RuntimeName,
  type RuntimeProbe,
} from "./container-runtime.js";
export {
  createOciExecutor,
  type LaunchTaskInput,
  type OciExecutor,
} from "./create-oci-executor.js";
export {
  closeRuntime,
  createPodmanDriver,
  onRuntimeNotice,
  PODMAN_DRIVERS,
  type PodmanDriver,
  type PodmanDriverName,
  type PodmanDriverOptions,
} from "./create-podman-driver.js";
export {
  closeUnselected,
  createRuntimeDrivers,
  type DetectedRuntime,
  detectRuntimes,
  type RuntimeDriverOptions,
  selectRuntime,
} from "./detect-runtimes.js";
export { createDockerRuntime, type DockerRuntimeOptions } from "./docker-runtime.js";
export {
  type AmdDevices,
  type CdiInventory,
  type CdiSpec,
  DEFAULT_CDI_DIRS,
  findAmdDevices,
  type GpuProbeOptions,
  type HostGpuInventory,
  hasCdiDevice,
  loadCdiInventory,
  NVIDIA_SMI_ARGS,
  type NvidiaGpu,
  type NvidiaSmiParse,
  parseCdiSpec,
  parseNvidiaSmi,
  probeHostGpus,
} from "./gpu-inventory.js";
export { AGENT_LABELS, isManagedFor } from "./managed-containers.js";
export { createNerdctlRuntime, type NerdctlRuntimeOptions } from "./nerdctl-runtime.js";
export {
  createPodmanApiRuntime,
  type PodmanApiRuntime,
  type PodmanApiRuntimeOptions,
} from "./podman-api-runtime.js";
export {
  type ContainersConfSettings,
  createPodmanRuntime,
  DEFAULT_CONTAINERS_CONF,
  isLoopbackRegistry,
  type PodmanRuntimeOptions,
  renderContainersConf,
} from "./podman-runtime.js";
export {
  createPodmanService,
  type PodmanService,
  type PodmanServiceOptions,
  SERVICE_PID_FILE,
  toPodmanSocketPath,
} from "./podman-service.js";
export { type LogsResult, readLogs } from "./read-logs.js";
export { type ManagedContainer, type RebuiltState, rebuildState } from "./rebuild-state.js";
export { createRedactor, REDACTED, type Redactor, redactDeep, toExcerpt } from "./redact.js";
export {
  fingerprintToken,
  type PullCredential,
  renderAuthConfig,
  sweepAuthDirs,
} from "./registry-auth.js";
export { RENDER_NODE_BASE, renderCreateArgs, renderGpuArgs } from "./render-create-args.js";
export {
  type CommandRequest,
  type CommandResult,
  type CommandRunner,
  runCommand,
} from "./run-command.js";
export { checkGpuRequest, runLaunchPreflight } from "./run-launch-preflight.js";
export { type LeasedTaskOutcome, runLeasedTask, toGpuMask } from "./run-leased-task.js";
export { type OciControlResult, runOciControl } from "./run-oci-control.js";
export {
  type LaunchedPort,
  type LaunchFailure,
  type LaunchStep,
  type OciLaunchResult,
  runOciLaunch,
  toCreateRequest,
  toLaunchedPorts,
} from "./run-oci-launch.js";
export { type OciRemoveResult, runOciRemove } from "./run-oci-remove.js";
export { type OciRuntimeStatusResult, runOciRuntimeStatus } from "./run-oci-runtime-status.js";
export type { ReadinessOutcome } from "./wait-for-readiness.js";
