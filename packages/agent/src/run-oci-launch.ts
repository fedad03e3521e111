import type { OciLaunchSpec } from "@gpuaas/engines";
import type { AgentConfig } from "./agent-config.js";
import type { LaunchDeps, TaskEvent } from "./agent-deps.js";
import { toGpuProbe } from "./agent-deps.js";
import {
  type AgentError,
  type AgentErrorCode,
  type AgentIssue,
  type TaskPhase,
  toAgentError,
  toIssuesError,
} from "./agent-errors.js";
import { checkLaunchSpec } from "./check-launch-spec.js";
import {
  type ContainerCreateRequest,
  type ContainerDetails,
  type ContainerRuntime,
  type ImageDetails,
  RuntimeCommandError,
} from "./container-runtime.js";
import { AGENT_LABELS, isManagedFor, stopAndRemove } from "./managed-containers.js";
import { createRedactor, type Redactor, redactDeep, toExcerpt } from "./redact.js";
import { fingerprintToken, withPullAuth } from "./registry-auth.js";
import { checkPlatform, checkRuntime, runLaunchPreflight } from "./run-launch-preflight.js";
import { type ReadinessOutcome, waitForReadiness } from "./wait-for-readiness.js";
import { prepareMountDirs, toBindMounts } from "./workload-paths.js";

/** A published port of a launched workload, on the host's loopback address. */
export interface LaunchedPort {
  readonly endpoint: string;
  readonly container_port: number;
  readonly host_ip: "127.0.0.1";
  /** Null when the runtime reports no binding (the readiness result says why). */
  readonly host_port: number | null;
  /** `http://127.0.0.1:<host_port>`, for the control plane's proxy, never for the public. */
  readonly url: string | null;
}

/** One step of a launch and how long it took. */
export interface LaunchStep {
  readonly step: TaskPhase | "replace" | "reuse";
  readonly ok: boolean;
  readonly duration_ms: number;
}

/** Why a launched workload is not ready, with what an operator needs to see. */
export interface LaunchFailure {
  readonly reason: string;
  readonly state: string | null;
  readonly exit_code: number | null;
  readonly oom_killed: boolean;
  /** The last lines of the container's output, redacted and bounded. */
  readonly log_excerpt: string;
}

/**
 * The result of `workload.oci_launch`, every string redacted. The container, its ports and the
 * package step sit at the top level (`container_id`, `container_name`, `ports`,
 * `package_install`); a failure's exit code, OOM flag and log excerpt are both in `failure` and
 * in `error.details`.
 */
export interface OciLaunchResult {
  readonly kind: "workload.oci_launch";
  readonly ok: boolean;
  readonly instance_id: string;
  readonly generation: number;
  readonly correlation_id: string;
  /** `created`: a new container; `reused`: this generation's container was already there. */
  readonly action: "created" | "reused" | "none";
  /** The container of an older generation this launch removed. */
  readonly replaced?: { readonly container_id: string; readonly generation: string | null };
  readonly runtime: { readonly name: string; readonly version: string | null };
  readonly container_id?: string;
  readonly container_name: string;
  readonly container_state?: string;
  readonly image: string;
  readonly ports: readonly LaunchedPort[];
  readonly pull?: {
    readonly skipped: boolean;
    /** `token:<fp6>` of the credential used, never the token. */
    readonly credential: string | null;
  };
  readonly package_install?: {
    readonly packages: readonly string[];
    readonly ok: boolean;
    readonly exit_code: number | null;
    /** The end of pip's output, redacted and bounded. */
    readonly excerpt: string;
  };
  readonly readiness?: readonly ReadinessOutcome[];
  readonly failure?: LaunchFailure;
  readonly error?: AgentError;
  readonly steps: readonly LaunchStep[];
  readonly duration_ms: number;
}

class LaunchAbort extends Error {
  constructor(readonly error: AgentError) {
    super(error.message);
  }
}

/** The labels a container of this spec carries: the spec's, then the agent's own on top. */
export function toEffectiveLabels(
  spec: OciLaunchSpec,
  config: AgentConfig,
): Record<string, string> {
  return {
    ...spec.container.labels,
    [AGENT_LABELS.managed]: "true",
    [AGENT_LABELS.instance]: spec.identity.instance_id,
    [AGENT_LABELS.generation]: String(spec.identity.generation),
    [AGENT_LABELS.correlationId]: spec.identity.correlation_id,
    [AGENT_LABELS.project]: spec.identity.project_id,
    ...(config.nodeId !== undefined ? { [AGENT_LABELS.node]: config.nodeId } : {}),
  };
}

/** The create request of a spec, with mount sources derived from agent configuration. */
export function toCreateRequest(spec: OciLaunchSpec, config: AgentConfig): ContainerCreateRequest {
  const { container } = spec;
  const vendor = container.gpus.vendor;
  return {
    name: container.name,
    image: container.image,
    labels: toEffectiveLabels(spec, config),
    env: container.env,
    ...(container.args !== undefined ? { args: container.args } : {}),
    ...(container.working_dir !== undefined ? { working_dir: container.working_dir } : {}),
    ...(container.user !== undefined ? { user: container.user } : {}),
    ports: container.ports.map((port) => ({
      container_port: port.container_port,
      ...(port.host_port !== undefined ? { host_port: port.host_port } : {}),
    })),
    cpus: container.resources.cpus,
    memory_mib: container.resources.memory_mib,
    pids_limit: container.resources.pids_limit,
    gpus: {
      vendor: vendor === "nvidia" || vendor === "amd" ? vendor : "none",
      indices: container.gpus.indices,
    },
    mounts: toBindMounts(config, spec),
    privileged: container.security.privileged,
  };
}

/** The published ports of a spec as the runtime bound them. */
export function toLaunchedPorts(
  spec: OciLaunchSpec,
  details: ContainerDetails | undefined,
): LaunchedPort[] {
  return spec.container.ports.map((port) => {
    const bound = details?.ports.find(
      (published) =>
        published.container_port === port.container_port &&
        published.protocol === "tcp" &&
        (published.host_ip === "127.0.0.1" || published.host_ip === ""),
    );
    const hostPort = bound?.host_port ?? null;
    return {
      endpoint: port.endpoint,
      container_port: port.container_port,
      host_ip: "127.0.0.1",
      host_port: hostPort,
      url: hostPort === null ? null : `http://127.0.0.1:${hostPort}`,
    };
  });
}

function runtimeErrorCode(error: unknown, fallback: AgentErrorCode): AgentErrorCode {
  if (!(error instanceof RuntimeCommandError)) return fallback;
  if (fallback === "pull.failed") {
    if (error.kind === "unauthorized") return "pull.unauthorized";
    if (error.kind === "manifest_unknown") return "pull.not_found";
  }
  return fallback;
}

function runtimeDetail(error: unknown): string {
  if (error instanceof RuntimeCommandError) {
    return error.kind === "timeout" ? "timed out" : error.stderr || error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs `workload.oci_launch`: checks the spec, preflights the host before touching anything, pulls
 * the image by digest with the task's credential in a 0600 auth file deleted right after, creates
 * and starts the hardened container, installs python packages when asked, and waits for readiness
 * on the loopback port. Idempotent: a repeated task for the same instance and generation finds its
 * container (starting it if needed) and reports it; a new generation replaces the old container.
 * Never throws for an expected failure; the result carries a stable code and an operator sentence.
 * On a readiness failure the container is left in place for inspection; `workload.oci_remove`
 * cleans it up.
 */
export async function runOciLaunch(
  spec: OciLaunchSpec,
  deps: LaunchDeps,
): Promise<OciLaunchResult> {
  const started = Date.now();
  const { config } = deps;
  const runtime = withImageMemo(deps.runtime);
  const token = deps.credential?.token;
  const redact: Redactor = createRedactor(
    [...(token !== undefined ? [token] : []), ...(deps.secrets ?? [])],
    [deps.credential?.username ?? config.registryUsername],
  );
  const correlationId = spec.identity?.correlation_id ?? "";
  const steps: LaunchStep[] = [];
  const now = deps.now ?? (() => new Date());
  const emit = (phase: TaskEvent["phase"], message: string, kind: TaskEvent["kind"] = "phase") => {
    deps.onEvent?.(
      redactDeep<TaskEvent>(
        {
          kind,
          phase,
          message,
          instance_id: spec.identity?.instance_id ?? "",
          correlation_id: correlationId,
          at: now().toISOString(),
        },
        redact,
      ),
    );
  };
  const timed = async <T>(step: LaunchStep["step"], fn: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    try {
      const value = await fn();
      steps.push({ step, ok: true, duration_ms: Date.now() - at });
      return value;
    } catch (error) {
      steps.push({ step, ok: false, duration_ms: Date.now() - at });
      throw error;
    }
  };
  const fail = (code: AgentErrorCode, message: string, details?: Record<string, unknown>) =>
    new LaunchAbort(
      toAgentError(code, message, correlationId, details !== undefined ? { details } : {}),
    );
  const failIssues = (issues: readonly AgentIssue[]) =>
    new LaunchAbort(toIssuesError(issues, correlationId));

  let runtimeVersion: string | null = null;
  let action: OciLaunchResult["action"] = "none";
  let replaced: OciLaunchResult["replaced"];
  let pull: OciLaunchResult["pull"];
  let packages: OciLaunchResult["package_install"];
  let readiness: readonly ReadinessOutcome[] | undefined;
  let failure: LaunchFailure | undefined;
  let details: ContainerDetails | undefined;

  const finish = (error?: AgentError): OciLaunchResult => {
    const result: OciLaunchResult = {
      kind: "workload.oci_launch",
      ok: error === undefined,
      instance_id: spec.identity?.instance_id ?? "",
      generation: spec.identity?.generation ?? -1,
      correlation_id: correlationId,
      action,
      ...(replaced !== undefined ? { replaced } : {}),
      runtime: { name: runtime.name, version: runtimeVersion },
      ...(details !== undefined
        ? { container_id: details.id, container_state: details.state }
        : {}),
      container_name: spec.container?.name ?? "",
      image: spec.container?.image ?? "",
      ports: details !== undefined ? toLaunchedPorts(spec, details) : [],
      ...(pull !== undefined ? { pull } : {}),
      ...(packages !== undefined ? { package_install: packages } : {}),
      ...(readiness !== undefined ? { readiness } : {}),
      ...(failure !== undefined ? { failure } : {}),
      ...(error !== undefined ? { error } : {}),
      steps,
      duration_ms: Date.now() - started,
    };
    emit("done", error === undefined ? "workload is ready" : `launch failed: ${error.code}`);
    return redactDeep(result, redact);
  };

  try {
    const specIssues = checkLaunchSpec(spec, config);
    const invalid = specIssues.filter((issue) => issue.code === "task.spec_invalid");
    if (invalid.length > 0) throw failIssues(invalid);

    emit("preflight", "checking the host");
    const probe = await timed("preflight", () => runtime.probe());
    runtimeVersion = probe.server_version ?? probe.client_version ?? null;
    const runtimeIssue = checkRuntime(probe);
    if (runtimeIssue !== undefined) throw failIssues([runtimeIssue]);

    const name = spec.container.name;
    // The image is looked at while the container is: the preflight asks for it next.
    void runtime.inspectImage(spec.container.image).catch(() => undefined);
    const existing = await runtime.inspectContainer(name);
    if (existing !== undefined) {
      if (!isManagedFor(existing, spec.identity.instance_id)) {
        throw failIssues([
          {
            pointer: "/container/name",
            code: "preflight.name_conflict",
            message: `a container named ${name} exists that this agent did not create for instance ${spec.identity.instance_id}: remove or rename it`,
          },
        ]);
      }
    }
    const existingGeneration = Number(existing?.labels[AGENT_LABELS.generation]);
    const sameGeneration = existingGeneration === spec.identity.generation;
    // Generations only grow (launch, upgrade, rollback each bump it): a lower one is a stale
    // redelivery and must not replace what a newer task started.
    if (existing !== undefined && existingGeneration > spec.identity.generation) {
      throw failIssues([
        {
          pointer: "/identity/generation",
          code: "preflight.generation_superseded",
          message: `instance ${spec.identity.instance_id} already runs generation ${existingGeneration}; this task is for generation ${spec.identity.generation} and changes nothing: drop the stale task`,
        },
      ]);
    }

    if (existing !== undefined && sameGeneration) {
      action = "reused";
      emit("start", `found this generation's container ${existing.id.slice(0, 12)}`);
      await timed("reuse", async () => {
        if (!existing.running) await startOrFail(runtime, name, fail);
      });
    } else {
      const preflightIssues = [
        ...specIssues,
        ...(await runLaunchPreflight(spec, {
          runtime,
          probe,
          config,
          ...(deps.credential !== undefined ? { credential: deps.credential } : {}),
          gpuMask: deps.gpuMask ?? [],
          probeGpus: toGpuProbe(deps),
          ...(existing !== undefined ? { replaced: existing } : {}),
        })),
      ];
      if (preflightIssues.length > 0) throw failIssues(preflightIssues);

      emit("pull", `pulling ${spec.container.image}`);
      pull = await timed("pull", () => pullImage(spec, { ...deps, runtime }, fail));
      const image = await runtime.inspectImage(spec.container.image);
      if (image === undefined) {
        throw fail("pull.failed", "the runtime reports no image after the pull: retry the launch");
      }
      const mismatch = checkPlatform(image, config.hostArchitecture);
      if (mismatch !== undefined) throw failIssues([mismatch]);

      if (existing !== undefined) {
        emit("create", `replacing generation ${existing.labels[AGENT_LABELS.generation] ?? "?"}`);
        await timed("replace", async () => {
          try {
            await stopAndRemove(runtime, existing, config.stopTimeoutSeconds);
          } catch (error) {
            throw fail(
              "create.failed",
              `could not remove the previous generation's container: ${runtimeDetail(error)}`,
            );
          }
        });
        replaced = {
          container_id: existing.id,
          generation: existing.labels[AGENT_LABELS.generation] ?? null,
        };
      }

      emit("create", "creating the container");
      await timed("create", async () => {
        await prepareMountDirs(config, spec);
        try {
          await runtime.createContainer(toCreateRequest(spec, config));
        } catch (error) {
          throw fail(
            "create.failed",
            `${runtime.name} refused to create the container: ${runtimeDetail(error)}`,
          );
        }
      });
      action = "created";
      emit("start", "starting the container");
      await timed("start", async () => {
        try {
          await startOrFail(runtime, name, fail);
        } catch (error) {
          // A container that never started is of no use to a retry: the retry creates it again.
          await runtime.removeContainer(name).catch(() => false);
          action = "none";
          throw error;
        }
      });
    }

    details = await runtime.inspectContainer(name);

    if (spec.python_packages.length > 0) {
      emit("packages", `installing ${spec.python_packages.length} python package(s)`);
      packages = await timed("packages", () => installPackages(spec, runtime, config, redact));
      if (!packages.ok) {
        throw fail(
          "packages.install_failed",
          `pip could not install ${spec.python_packages.join(" ")} (exit ${packages.exit_code ?? "?"}): check the package names against the index ${config.pipIndexUrl ?? ""}; the output excerpt is in the result`,
          { exit_code: packages.exit_code, excerpt: packages.excerpt },
        );
      }
    }

    if (spec.readiness.length > 0) {
      emit("readiness", "waiting for the workload to answer");
      const hostPorts = new Map(
        toLaunchedPorts(spec, details)
          .filter((port) => port.host_port !== null)
          .map((port) => [port.endpoint, port.host_port as number] as const),
      );
      const report = await timed("readiness", () =>
        waitForReadiness(spec.readiness, {
          hostPorts,
          isRunning: async () => (await runtime.inspectContainer(name))?.running === true,
          ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}),
          ...(deps.signal !== undefined ? { signal: deps.signal } : {}),
        }),
      );
      readiness = report.outcomes;
      if (!report.ok) {
        details = (await runtime.inspectContainer(name)) ?? details;
        const last = report.outcomes[report.outcomes.length - 1];
        const reason = report.container_exited
          ? `the container stopped while waiting for readiness probe ${last?.name ?? "?"}`
          : `readiness probe ${last?.name ?? "?"} did not pass within ${spec.readiness.find((probe) => probe.name === last?.name)?.timeout_seconds ?? "?"} s (last: ${last?.last_status ?? last?.last_error ?? "no answer"})`;
        failure = await describeFailure(runtime, name, details, reason, config, redact);
        throw fail(
          report.container_exited ? "readiness.container_exited" : "readiness.timeout",
          report.container_exited
            ? `${reason} (exit code ${failure.exit_code ?? "?"}${failure.oom_killed ? ", killed for lack of memory: raise the memory limit" : ""}): see the log excerpt`
            : `${reason}: check the probe path and the workload's log excerpt, or raise the probe's timeout`,
          { ...failure },
        );
      }
    }
    // A probe that just answered shows the container running; without probes, look again so a
    // container that exited at once is reported as it is.
    if (spec.readiness.length === 0) details = (await runtime.inspectContainer(name)) ?? details;
    return finish();
  } catch (error) {
    if (error instanceof LaunchAbort) return finish(error.error);
    return finish(
      toAgentError(
        "internal",
        `unexpected agent error: ${error instanceof Error ? error.message : String(error)}`,
        correlationId,
      ),
    );
  }
}

/**
 * The runtime with `inspectImage` answered from memory once an image was found: a digest names
 * immutable content, so one launch need not ask three times (preflight, pull, platform check).
 */
function withImageMemo(runtime: ContainerRuntime): ContainerRuntime {
  const asked = new Map<string, Promise<ImageDetails | undefined>>();
  return new Proxy(runtime, {
    get(target, property) {
      if (property === "inspectImage") {
        return (image: string): Promise<ImageDetails | undefined> => {
          const known = asked.get(image);
          if (known !== undefined) return known;
          const answer = target.inspectImage(image);
          asked.set(image, answer);
          // Only a found image is remembered: after a pull, the runtime is asked again.
          answer.then(
            (details) => {
              if (details === undefined && asked.get(image) === answer) asked.delete(image);
            },
            () => {
              if (asked.get(image) === answer) asked.delete(image);
            },
          );
          return answer;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function startOrFail(
  runtime: ContainerRuntime,
  name: string,
  fail: (code: AgentErrorCode, message: string) => LaunchAbort,
): Promise<void> {
  try {
    await runtime.startContainer(name);
  } catch (error) {
    const detail = runtimeDetail(error);
    const hint = /CDI|nvidia|\/dev\/kfd|device/i.test(detail)
      ? ": the runtime could not attach the requested devices; check the GPU plumbing on this host"
      : ": see the runtime's message";
    throw fail("start.failed", `${runtime.name} could not start the container (${detail})${hint}`);
  }
}

async function pullImage(
  spec: OciLaunchSpec,
  deps: LaunchDeps,
  fail: (code: AgentErrorCode, message: string, details?: Record<string, unknown>) => LaunchAbort,
): Promise<NonNullable<OciLaunchResult["pull"]>> {
  const { runtime, config, credential } = deps;
  const fingerprint = credential === undefined ? null : fingerprintToken(credential.token);
  // A digest names immutable content: a local copy is the image, no pull needed.
  if ((await runtime.inspectImage(spec.container.image)) !== undefined) {
    return { skipped: true, credential: fingerprint };
  }
  const pull = (authDir?: string) =>
    runtime.pullImage(spec.container.image, authDir !== undefined ? { authDir } : {});
  try {
    if (credential === undefined) await pull();
    else {
      await withPullAuth(
        config.secretsDir,
        spec.identity.instance_id,
        credential,
        config.registryUsername,
        pull,
      );
    }
  } catch (error) {
    const code = runtimeErrorCode(error, "pull.failed");
    const detail = runtimeDetail(error);
    const message =
      code === "pull.unauthorized"
        ? `the registry refused the pull with ${fingerprint ?? "no credential"} (${detail}): the control plane must mint a fresh credential scoped to ${spec.container.repository}`
        : code === "pull.not_found"
          ? `the registry has no manifest ${spec.container.digest} in ${spec.container.repository}: the artifact record points at an image that is gone`
          : `pulling ${spec.container.image} failed (${detail}): check that the registry is reachable from this host`;
    throw fail(code, message);
  }
  return { skipped: false, credential: fingerprint };
}

async function installPackages(
  spec: OciLaunchSpec,
  runtime: ContainerRuntime,
  config: AgentConfig,
  redact: Redactor,
): Promise<NonNullable<OciLaunchResult["package_install"]>> {
  const index = config.pipIndexUrl ?? "";
  const url = new URL(index);
  const argv = [
    "python",
    "-m",
    "pip",
    "install",
    "--no-cache-dir",
    "--disable-pip-version-check",
    "--index-url",
    index,
    // pip ignores a plain-HTTP index unless the host is trusted explicitly.
    ...(url.protocol === "http:" ? ["--trusted-host", url.hostname] : []),
    ...spec.python_packages,
  ];
  const result = await runtime.exec(spec.container.name, argv, config.pipTimeoutSeconds * 1000);
  return {
    packages: [...spec.python_packages],
    ok: result.exit_code === 0 && !result.timed_out,
    exit_code: result.exit_code,
    excerpt: toExcerpt(
      redact(result.timed_out ? `${result.output}\n[timed out]` : result.output),
      config.excerptBytes,
    ),
  };
}

async function describeFailure(
  runtime: ContainerRuntime,
  name: string,
  details: ContainerDetails | undefined,
  reason: string,
  config: AgentConfig,
  redact: Redactor,
): Promise<LaunchFailure> {
  const logs = await runtime.readLogs(name, 200).catch(() => "");
  return {
    reason,
    state: details?.state ?? null,
    exit_code: details !== undefined && !details.running ? details.exit_code : null,
    oom_killed: details?.oom_killed ?? false,
    log_excerpt: toExcerpt(redact(logs), config.excerptBytes),
  };
}
