import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { classifyRuntimeMessage, RUNTIME_DEFAULTS, toRuntimeExcerpt } from "./cli-runtime.js";
import {
  type ContainerCreateRequest,
  type ContainerDetails,
  type ContainerRuntime,
  type ExecResult,
  type ImageDetails,
  RuntimeCommandError,
  type RuntimeFailureKind,
  type RuntimeProbe,
} from "./container-runtime.js";
import { createFrameDemultiplexer } from "./demultiplex-frames.js";
import {
  createLibpodClient,
  type LibpodClient,
  type LibpodRequest,
  type LibpodResponse,
  LibpodTransportError,
} from "./libpod-client.js";
import { createPullStreamParser } from "./parse-pull-stream.js";
import { parseJsonDocuments, toContainerDetails, toImageDetails } from "./parse-runtime-json.js";
import {
  type ContainersConfSettings,
  DEFAULT_CONTAINERS_CONF,
  isLoopbackRegistry,
  toPodmanProbe,
} from "./podman-runtime.js";
import { AUTH_FILE_NAME, registryOfImage } from "./registry-auth.js";
import { renderCreateArgs } from "./render-create-args.js";
import { renderLibpodSpec, toLibpodUlimits } from "./render-libpod-spec.js";
import { renderRegistryAuthHeader, toPaddedBase64Url } from "./render-registry-auth-header.js";

/** Options of the podman API driver. */
export interface PodmanApiRuntimeOptions {
  /** The libpod socket (`podman system service unix://…`). */
  readonly socketPath: string;
  /** Resolves when the service behind the socket answers (starts it when needed). */
  readonly ensureService?: () => Promise<void>;
  /** The podman program, for the probe and the create argv rendered for audit. */
  readonly binary?: string;
  /** The ulimits of the agent's containers.conf, set on every container as the CLI gets them. */
  readonly containersConf?: ContainersConfSettings;
  /** Loopback registries pulled over plain HTTP (`tlsVerify=false`); any other host is refused. */
  readonly plainHttpRegistries?: readonly string[];
  /** Bound of an ordinary request (inspect, create, start…); default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Bound of a pull; default 15 min. */
  readonly pullTimeoutMs?: number;
  /** Bytes of log output `readLogs` keeps; default 256 KiB. */
  readonly maxLogBytes?: number;
  /** Bytes of exec output kept; default 1 MiB. */
  readonly maxExecBytes?: number;
}

/** A podman driver that holds a connection pool: `close` lets the process exit. */
export interface PodmanApiRuntime extends ContainerRuntime {
  readonly socketPath: string;
  close(): void;
}

/**
 * The first request of an operation never reached podman (no socket, nothing listening, the
 * service not running): nothing was done, so the same operation through the CLI is safe. A later
 * request of the same operation never raises it: by then part of the operation has happened.
 */
export class PodmanApiUnreachableError extends RuntimeCommandError {}

const DEFAULT_MAX_EXEC_BYTES = 1024 * 1024;
const EXEC_POLL_ATTEMPTS = 20;
const EXEC_POLL_INTERVAL_MS = 50;
/** podman's own exit status for "podman itself failed" (as `podman exec` reports it). */
const PODMAN_ERROR_EXIT = 125;
/** `X-Registry-Auth` of an empty credential map (`{}`): podman's "an auth file with no entries". */
const EMPTY_REGISTRY_AUTH = toPaddedBase64Url("{}");
const LATE = Symbol("late");

/** Whether a request is an operation's first (nothing done yet) or a later one. */
type RequestStep = "first" | "later";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Settles as `promise` does, or resolves {@link LATE} when it has not within `ms`. */
async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((resolve) => {
    timer = setTimeout(() => resolve(LATE), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The message of a libpod error answer (`{"cause","message","response"}`), or the raw text.
 *
 * @example
 * toLibpodMessage('{"cause":"no such container","message":"no container with name or ID \\"x\\" found: no such container","response":404}')
 * // 'no container with name or ID "x" found: no such container'
 */
export function toLibpodMessage(body: string): string {
  const [first] = parseJsonDocuments(body);
  if (typeof first === "object" && first !== null) {
    const record = first as Record<string, unknown>;
    if (typeof record.message === "string" && record.message.length > 0) return record.message;
    if (typeof record.cause === "string" && record.cause.length > 0) return record.cause;
  }
  return body.trim();
}

/**
 * Sorts a libpod error answer into the same kinds the CLI driver uses: 404 is `not_found`, 401 and
 * 403 are `unauthorized`, and otherwise the message decides exactly as it does for the CLI's
 * stderr (`manifest unknown`, `unauthorized`, …).
 *
 * @example
 * classifyLibpodFailure(404, "no such container") // "not_found"
 */
export function classifyLibpodFailure(status: number, message: string): RuntimeFailureKind {
  if (status === 404) return "not_found";
  if (status === 401 || status === 403) return "unauthorized";
  return classifyRuntimeMessage(message);
}

/**
 * The `X-Registry-Auth` header of a pull. With the task's auth file (`authDir`) and an entry for
 * the image's registry: that credential alone (podman uses nothing else). With an auth file but no
 * entry: an empty credential map, which podman 4 turns into an empty auth file for the pull, as
 * `podman pull --authfile` with that file does; without any header the service would read its
 * own `${XDG_RUNTIME_DIR}/containers/auth.json` (`podman login`'s store) instead. Either way podman
 * still reads the read-only fallbacks (`~/.docker/config.json`…), as the CLI does with `--authfile`.
 */
async function readPullAuthHeaders(
  image: string,
  authDir: string | undefined,
): Promise<Record<string, string>> {
  if (authDir === undefined) return {};
  const file = await readFile(join(authDir, AUTH_FILE_NAME), "utf8").catch(() => undefined);
  const header =
    file === undefined ? undefined : renderRegistryAuthHeader(file, registryOfImage(image));
  return { "X-Registry-Auth": header ?? EMPTY_REGISTRY_AUTH };
}

function encode(segment: string): string {
  return encodeURIComponent(segment);
}

/**
 * The podman driver over the libpod REST API (`/v4.0.0/libpod/…`, never the docker-compatible
 * API, which drops GPU requests) on a unix socket: one request per step over kept-alive
 * connections instead of one podman process per step. Creates the same hardened containers as
 * the CLI driver (same GPUs, limits, ports, mounts, capabilities and ulimits), pulls by digest
 * with the task's credential in `X-Registry-Auth`, and fails with the same
 * {@link RuntimeCommandError} kinds. Never logs a request header.
 *
 * @example
 * createPodmanApiRuntime({ socketPath: "/var/lib/gpuaas/agent/podman/podman.sock" })
 */
export function createPodmanApiRuntime(options: PodmanApiRuntimeOptions): PodmanApiRuntime {
  const plainHttp = new Set(options.plainHttpRegistries ?? []);
  for (const registry of plainHttp) {
    if (!isLoopbackRegistry(registry)) {
      throw new Error(`plain HTTP is allowed only for loopback registries, not ${registry}`);
    }
  }
  const binary = options.binary ?? "podman";
  const client: LibpodClient = createLibpodClient(options.socketPath);
  const commandTimeoutMs = options.commandTimeoutMs ?? RUNTIME_DEFAULTS.commandTimeoutMs;
  const longTimeoutMs = Math.max(commandTimeoutMs, 60_000);
  const pullTimeoutMs = options.pullTimeoutMs ?? RUNTIME_DEFAULTS.pullTimeoutMs;
  const maxLogBytes = options.maxLogBytes ?? RUNTIME_DEFAULTS.maxLogBytes;
  const maxExecBytes = options.maxExecBytes ?? DEFAULT_MAX_EXEC_BYTES;
  const ulimits = toLibpodUlimits(
    options.containersConf?.defaultUlimits ?? DEFAULT_CONTAINERS_CONF.defaultUlimits,
  );

  const failure = (operation: string, kind: RuntimeFailureKind, text: string) =>
    new RuntimeCommandError(operation, kind, null, toRuntimeExcerpt(text));

  /**
   * Sends a request, waiting first for the service, both within the request's `timeoutMs`. A
   * request that got no answer throws; an error status is returned. Only an operation's `first`
   * request fails as {@link PodmanApiUnreachableError} when podman is not there: after it, part of
   * the operation may have happened (an exec ran, a container exists), and the CLI driver must
   * not do it all again, so a `later` one fails as `failed`.
   */
  const call = async (
    operation: string,
    request: LibpodRequest,
    step: RequestStep = "first",
  ): Promise<LibpodResponse> => {
    const unreachable = (message: string): RuntimeCommandError =>
      step === "first"
        ? new PodmanApiUnreachableError(operation, "failed", null, toRuntimeExcerpt(message))
        : failure(operation, "failed", message);
    const started = Date.now();
    if (options.ensureService !== undefined) {
      let ready: unknown;
      try {
        ready = await settleWithin(options.ensureService(), request.timeoutMs);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw unreachable(`the podman API service is not running: ${reason}`);
      }
      if (ready === LATE) {
        const message = "the podman API service did not start in time";
        throw step === "first" ? unreachable(message) : failure(operation, "timeout", message);
      }
    }
    try {
      return await client.request({
        ...request,
        timeoutMs: Math.max(1, request.timeoutMs - (Date.now() - started)),
      });
    } catch (error) {
      if (error instanceof LibpodTransportError) {
        if (error.failure === "timeout") throw failure(operation, "timeout", "timed out");
        // A broken connection may have done part of the work: not safe to repeat elsewhere.
        if (error.failure === "reset") throw failure(operation, "failed", error.message);
        throw unreachable(error.message);
      }
      throw error;
    }
  };

  const toError = (operation: string, response: LibpodResponse): RuntimeCommandError => {
    const message = toLibpodMessage(response.body.toString("utf8"));
    return failure(
      operation,
      classifyLibpodFailure(response.status, message),
      message || `HTTP ${response.status}`,
    );
  };

  const mustSucceed = async (
    operation: string,
    request: LibpodRequest,
  ): Promise<LibpodResponse> => {
    const response = await call(operation, request);
    if (response.status >= 300 && response.status !== 304) throw toError(operation, response);
    return response;
  };

  const json = (response: LibpodResponse): unknown => {
    const [first] = parseJsonDocuments(response.body.toString("utf8"));
    return first;
  };

  const inspectOnce = (name: string, step: RequestStep) =>
    call(
      "inspect",
      {
        method: "GET",
        path: `/containers/${encode(name)}/json`,
        timeoutMs: commandTimeoutMs,
        idempotent: true,
      },
      step,
    );

  /** Inspects a container; `later` when the inspect is part of a bigger operation (a list). */
  const inspectContainer = async (
    name: string,
    step: RequestStep = "first",
  ): Promise<ContainerDetails | undefined> => {
    let response = await inspectOnce(name, step);
    if (response.status >= 300 && response.status !== 404) {
      // Inspecting changes nothing: ask once more before a transient failure fails a task.
      await sleep(RUNTIME_DEFAULTS.inspectRetryMs);
      response = await inspectOnce(name, "later");
    }
    if (response.status === 404) return undefined;
    if (response.status >= 300) throw toError("inspect", response);
    return toContainerDetails(json(response));
  };

  return {
    name: "podman",
    socketPath: options.socketPath,

    async probe(): Promise<RuntimeProbe> {
      const base = { name: "podman" as const, binary };
      try {
        const [version, info] = await Promise.all([
          call("version", {
            method: "GET",
            path: "/version",
            timeoutMs: 15_000,
            idempotent: true,
          }),
          call("info", { method: "GET", path: "/info", timeoutMs: 20_000, idempotent: true }),
        ]);
        const versionJson = version.status === 200 ? json(version) : undefined;
        const infoJson = info.status === 200 ? json(info) : undefined;
        const serverVersion =
          typeof versionJson === "object" && versionJson !== null
            ? (versionJson as { Version?: unknown }).Version
            : undefined;
        // The API has no client: the service is the podman the agent runs.
        const facts = toPodmanProbe(
          { Client: { Version: serverVersion }, Server: { Version: serverVersion } },
          infoJson,
        );
        const answering = infoJson !== undefined;
        return {
          ...base,
          ...facts,
          present: true,
          answering,
          ...(answering
            ? {}
            : {
                problem: toRuntimeExcerpt(
                  toLibpodMessage(info.body.toString("utf8")) || "no answer",
                ),
              }),
        };
      } catch (error) {
        const detail =
          error instanceof RuntimeCommandError ? error.stderr || error.message : String(error);
        return {
          ...base,
          present: true,
          answering: false,
          problem: toRuntimeExcerpt(detail),
        };
      }
    },

    async pullImage(image, pullOptions) {
      const headers = await readPullAuthHeaders(image, pullOptions.authDir);
      const parser = createPullStreamParser();
      const response = await call("pull", {
        method: "POST",
        path: "/images/pull",
        query: {
          reference: image,
          policy: "always",
          quiet: true,
          ...(plainHttp.has(registryOfImage(image)) ? { tlsVerify: false } : {}),
        },
        headers,
        timeoutMs: pullTimeoutMs,
        onChunk: (chunk) => {
          parser.push(chunk);
          return true;
        },
      });
      if (response.status >= 300) throw toError("pull", response);
      const outcome = parser.finish();
      if (outcome.error !== undefined) {
        throw failure("pull", classifyLibpodFailure(200, outcome.error), outcome.error);
      }
      if (outcome.id === undefined && outcome.images.length === 0) {
        throw failure(
          "pull",
          "failed",
          response.truncated
            ? "the podman API closed the pull stream before the pull finished"
            : "the pull reported no image",
        );
      }
    },

    async inspectImage(image): Promise<ImageDetails | undefined> {
      const response = await call("image inspect", {
        method: "GET",
        path: `/images/${encode(image)}/json`,
        timeoutMs: commandTimeoutMs,
        idempotent: true,
      });
      if (response.status >= 300) {
        const error = toError("image inspect", response);
        if (error.kind === "not_found" || error.kind === "failed") return undefined;
        throw error;
      }
      return toImageDetails(json(response));
    },

    renderCreateArgs(request: ContainerCreateRequest): string[] {
      return renderCreateArgs("podman", request);
    },

    async createContainer(request) {
      const body = renderLibpodSpec(request, {
        ulimits,
        // What `podman inspect` shows as the create command: the CLI-equivalent argv, as the
        // CLI driver's containers show theirs.
        createCommand: [binary, ...renderCreateArgs("podman", request)],
      });
      const response = await mustSucceed("create", {
        method: "POST",
        path: "/containers/create",
        body,
        timeoutMs: longTimeoutMs,
      });
      const id = (json(response) as { Id?: unknown } | undefined)?.Id;
      return typeof id === "string" ? id : "";
    },

    async startContainer(name) {
      // 304: already running, which `podman start` also takes as success.
      await mustSucceed("start", {
        method: "POST",
        path: `/containers/${encode(name)}/start`,
        timeoutMs: longTimeoutMs,
      });
    },

    async stopContainer(name, timeoutSeconds) {
      await mustSucceed("stop", {
        method: "POST",
        path: `/containers/${encode(name)}/stop`,
        query: { timeout: timeoutSeconds },
        timeoutMs: timeoutSeconds * 1000 + commandTimeoutMs,
      });
    },

    async restartContainer(name, timeoutSeconds) {
      // libpod reads `timeout` (the docker-compatible `t` is ignored on this path).
      await mustSucceed("restart", {
        method: "POST",
        path: `/containers/${encode(name)}/restart`,
        query: { timeout: timeoutSeconds },
        timeoutMs: timeoutSeconds * 1000 + commandTimeoutMs,
      });
    },

    async removeContainer(name) {
      const response = await call("rm", {
        method: "DELETE",
        path: `/containers/${encode(name)}`,
        query: { force: true, v: true, timeout: 0 },
        timeoutMs: longTimeoutMs,
        idempotent: true,
      });
      if (response.status === 404) return false;
      if (response.status >= 300) throw toError("rm", response);
      // 200 carries one report per container; a report with `Err` is a failed removal.
      const failed = parseJsonDocuments(response.body.toString("utf8"))
        .map((report) => (report as { Err?: unknown } | null)?.Err)
        .find((err): err is string => typeof err === "string" && err.length > 0);
      if (failed !== undefined) {
        const kind = classifyLibpodFailure(500, failed);
        if (kind === "not_found") return false;
        throw failure("rm", kind, failed);
      }
      return true;
    },

    inspectContainer,

    async listContainers(labels) {
      const response = await mustSucceed("ps", {
        method: "GET",
        path: "/containers/json",
        query: {
          all: true,
          filters: JSON.stringify({
            label: Object.entries(labels).map(([key, value]) => `${key}=${value}`),
          }),
        },
        timeoutMs: commandTimeoutMs,
        idempotent: true,
      });
      const entries = parseJsonDocuments(response.body.toString("utf8"));
      const ids = entries.flatMap((entry) => {
        const id = (entry as { Id?: unknown } | null)?.Id;
        return typeof id === "string" && id.length > 0 ? [id] : [];
      });
      // A container may vanish between the list and its inspect: it is left out. Any other
      // failure fails the list: a running container missing from it would look gone.
      const details = await Promise.all(
        ids.map((id) =>
          inspectContainer(id, "later").catch((error: unknown) => {
            if (error instanceof RuntimeCommandError && error.kind === "not_found")
              return undefined;
            throw error;
          }),
        ),
      );
      return details
        .filter((item): item is ContainerDetails => item !== undefined)
        .filter((item) => Object.entries(labels).every(([k, v]) => item.labels[k] === v));
    },

    async readLogs(name, tail) {
      const demux = createFrameDemultiplexer(maxLogBytes);
      const response = await call("logs", {
        method: "GET",
        path: `/containers/${encode(name)}/logs`,
        query: { stdout: true, stderr: true, tail },
        timeoutMs: commandTimeoutMs,
        idempotent: true,
        onChunk: (chunk) => demux.push(chunk),
      });
      if (response.status >= 300) throw toError("logs", response);
      const output = demux.finish();
      // The CLI driver relays the two streams one after the other; so does this one.
      return [output.stdout, output.stderr].filter((part) => part.length > 0).join("\n");
    },

    async exec(name, argv, timeoutMs): Promise<ExecResult> {
      // `timeoutMs` bounds the whole exec (create, run, exit code), as it bounds `podman exec`.
      const deadline = Date.now() + timeoutMs;
      const within = (bound: number): number => Math.max(1, Math.min(bound, deadline - Date.now()));
      const isTimeout = (error: unknown): boolean =>
        error instanceof RuntimeCommandError && error.kind === "timeout";
      const timedOut = (output: string, truncated: boolean): ExecResult => ({
        exit_code: null,
        output,
        timed_out: true,
        truncated,
      });
      // As `podman exec` does: podman's own failure is exit status 125 with its message.
      const podmanFailed = (response: LibpodResponse): ExecResult => ({
        exit_code: PODMAN_ERROR_EXIT,
        output: toRuntimeExcerpt(`Error: ${toLibpodMessage(response.body.toString("utf8"))}`),
        timed_out: false,
        truncated: false,
      });
      let created: LibpodResponse;
      try {
        created = await call("exec", {
          method: "POST",
          path: `/containers/${encode(name)}/exec`,
          body: {
            AttachStdin: false,
            AttachStdout: true,
            AttachStderr: true,
            Tty: false,
            Cmd: argv,
          },
          timeoutMs: within(commandTimeoutMs),
        });
      } catch (error) {
        if (isTimeout(error)) return timedOut("", false);
        throw error;
      }
      if (created.status >= 300) return podmanFailed(created);
      const id = (json(created) as { Id?: unknown } | undefined)?.Id;
      if (typeof id !== "string") throw failure("exec", "failed", "the exec session has no id");
      const demux = createFrameDemultiplexer(maxExecBytes);
      let stream: LibpodResponse | undefined;
      try {
        stream = await call(
          "exec",
          {
            method: "POST",
            path: `/exec/${encode(id)}/start`,
            body: { Detach: false, Tty: false },
            timeoutMs: within(timeoutMs),
            onChunk: (chunk) => demux.push(chunk),
          },
          "later",
        );
      } catch (error) {
        if (!isTimeout(error)) throw error;
      }
      const output = demux.finish();
      const text = [output.stdout, output.stderr].filter((part) => part.length > 0).join("\n");
      if (stream === undefined) return timedOut(text, output.truncated);
      if (stream.status >= 300) return podmanFailed(stream);
      let exitCode: number | null = null;
      if (!stream.truncated) {
        // The session's exit code is recorded as the stream ends; ask until it is.
        for (let attempt = 0; attempt < EXEC_POLL_ATTEMPTS; attempt += 1) {
          if (Date.now() >= deadline) return timedOut(text, output.truncated);
          let session: LibpodResponse;
          try {
            session = await call(
              "exec",
              {
                method: "GET",
                path: `/exec/${encode(id)}/json`,
                timeoutMs: within(commandTimeoutMs),
                idempotent: true,
              },
              "later",
            );
          } catch (error) {
            if (isTimeout(error)) return timedOut(text, output.truncated);
            throw error;
          }
          const state = json(session) as { ExitCode?: unknown; Running?: unknown } | undefined;
          if (session.status === 200 && state?.Running !== true) {
            exitCode = typeof state?.ExitCode === "number" ? state.ExitCode : null;
            break;
          }
          await sleep(Math.min(EXEC_POLL_INTERVAL_MS, Math.max(0, deadline - Date.now())));
        }
      }
      return {
        exit_code: exitCode,
        output: text,
        timed_out: false,
        truncated: output.truncated || stream.truncated,
      };
    },

    close() {
      client.close();
    },
  };
}
