import type { OciControlSpec, OciLaunchSpec, OciRemoveSpec } from "@gpuaas/engines";
import type { AgentDeps, LaunchDeps } from "./agent-deps.js";
import type { ContainerRuntime, RuntimeProbe } from "./container-runtime.js";
import { type LogsResult, readLogs } from "./read-logs.js";
import { type RebuiltState, rebuildState } from "./rebuild-state.js";
import type { PullCredential } from "./registry-auth.js";
import { type OciControlResult, runOciControl } from "./run-oci-control.js";
import { type OciLaunchResult, runOciLaunch } from "./run-oci-launch.js";
import { type OciRemoveResult, runOciRemove } from "./run-oci-remove.js";
import { type OciRuntimeStatusResult, runOciRuntimeStatus } from "./run-oci-runtime-status.js";

/** What a launch task brings besides its spec: the lease's credential and allocation GPUs. */
export interface LaunchTaskInput {
  readonly credential?: PullCredential;
  readonly gpuMask?: readonly number[];
  readonly signal?: AbortSignal;
}

/** The agent's task handlers bound to one runtime and configuration. */
export interface OciExecutor {
  runtimeStatus(others?: readonly RuntimeProbe[]): Promise<OciRuntimeStatusResult>;
  launch(spec: OciLaunchSpec, task?: LaunchTaskInput): Promise<OciLaunchResult>;
  control(spec: OciControlSpec): Promise<OciControlResult>;
  remove(spec: OciRemoveSpec): Promise<OciRemoveResult>;
  readLogs(containerName: string, tail: number): Promise<LogsResult>;
  rebuildState(): Promise<RebuiltState>;
}

const MAX_REMEMBERED_TOKENS = 256;

/**
 * The runtime twice over: `fresh` asks the runtime on every probe and keeps an answering result;
 * `cached` reuses that result while it is younger than `ttlMs` (launches then skip `version` and
 * `info`, a few hundred milliseconds on podman). A runtime that stops answering in between fails
 * the create step with its own code instead.
 */
function withProbeCache(
  runtime: ContainerRuntime,
  ttlMs: number,
  now: () => number,
): { readonly fresh: ContainerRuntime; readonly cached: ContainerRuntime } {
  let last: { readonly probe: RuntimeProbe; readonly at: number } | undefined;
  const probeFresh = async (): Promise<RuntimeProbe> => {
    const probe = await runtime.probe();
    last = probe.answering ? { probe, at: now() } : undefined;
    return probe;
  };
  const probeCached = async (): Promise<RuntimeProbe> =>
    last !== undefined && now() - last.at < ttlMs ? last.probe : probeFresh();
  const wrap = (probe: () => Promise<RuntimeProbe>): ContainerRuntime =>
    new Proxy(runtime, {
      get(target, property) {
        if (property === "probe") return probe;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return { fresh: wrap(probeFresh), cached: ttlMs > 0 ? wrap(probeCached) : runtime };
}

/**
 * Binds the task handlers to one runtime and configuration. Tasks for the same container run one
 * after another (a redelivered lease cannot race the first delivery); different containers run in
 * parallel. Pull tokens seen by launches are remembered (in memory, bounded) so that later log
 * reads redact them too, and forgotten when the instance is removed. A launch reuses the last
 * answering runtime probe for `config.probeCacheSeconds`; `runtimeStatus` always probes afresh.
 */
export function createOciExecutor(deps: AgentDeps): OciExecutor {
  const probes = withProbeCache(deps.runtime, deps.config.probeCacheSeconds * 1000, Date.now);
  const queues = new Map<string, Promise<unknown>>();
  const tokens = new Map<string, string>();
  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = queues.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    queues.set(key, settled);
    void settled.then(() => {
      if (queues.get(key) === settled) queues.delete(key);
    });
    return next;
  };
  const withSecrets = (): AgentDeps => ({
    ...deps,
    secrets: [...(deps.secrets ?? []), ...tokens.values()],
  });
  return {
    runtimeStatus: (others) => runOciRuntimeStatus({ ...deps, runtime: probes.fresh }, others),
    launch: (spec, task = {}) =>
      serial(spec.container.name, () => {
        if (task.credential !== undefined) {
          tokens.delete(spec.identity.instance_id);
          tokens.set(spec.identity.instance_id, task.credential.token);
          while (tokens.size > MAX_REMEMBERED_TOKENS) {
            const oldest = tokens.keys().next().value;
            if (oldest === undefined) break;
            tokens.delete(oldest);
          }
        }
        const launchDeps: LaunchDeps = {
          ...withSecrets(),
          runtime: probes.cached,
          ...(task.credential !== undefined ? { credential: task.credential } : {}),
          ...(task.gpuMask !== undefined ? { gpuMask: task.gpuMask } : {}),
          ...(task.signal !== undefined ? { signal: task.signal } : {}),
        };
        return runOciLaunch(spec, launchDeps);
      }),
    control: (spec) => serial(spec.container_name, () => runOciControl(spec, withSecrets())),
    remove: (spec) =>
      serial(spec.container_name, async () => {
        const result = await runOciRemove(spec, withSecrets());
        if (result.ok) tokens.delete(spec.identity.instance_id);
        return result;
      }),
    readLogs: (containerName, tail) => readLogs(containerName, tail, withSecrets()),
    rebuildState: () => rebuildState(deps),
  };
}
