import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { LIBPOD_API_PREFIX } from "./libpod-client.js";
import { createRedactor, toExcerpt } from "./redact.js";

/** Options of {@link createPodmanService}. */
export interface PodmanServiceOptions {
  /** The podman program; default `podman` on PATH. */
  readonly binary?: string;
  /** Where the service listens; its directory is made private (0700). */
  readonly socketPath: string;
  /** Environment added to the agent's for the service (the CLI driver's, e.g. `CONTAINERS_CONF`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Runs before every start (the agent writes its containers.conf here). */
  readonly beforeStart?: () => Promise<void>;
  /** How long a start may take until `GET /_ping` answers; default 15 s. */
  readonly startTimeoutMs?: number;
  /**
   * Told when the service exits on its own, with how long until it is started again; at most once
   * per back-off step, so a service that keeps dying is not logged every time.
   */
  readonly onExit?: (message: string, restartInMs: number) => void;
  /** The restart back-off; the defaults suit production, tests shorten them. */
  readonly backoff?: Partial<PodmanServiceBackoff>;
}

/** How a service that failed to start, or died, is started again. */
export interface PodmanServiceBackoff {
  /** Delay after the first failure; it doubles with every further one. Default 1 s. */
  readonly minMs: number;
  /** Longest delay. Default 30 s. */
  readonly maxMs: number;
  /** How long a start must stay up before the back-off starts over. Default 30 s. */
  readonly stableMs: number;
}

/** A supervised `podman system service`. */
export interface PodmanService {
  readonly socketPath: string;
  /**
   * Resolves once the service answers `GET /_ping`: at once when it runs, else after starting it.
   * Rejects when it cannot start; after a failed start, further calls reject at once until a
   * back-off has passed (so callers fall back quickly instead of waiting on every request).
   */
  ready(): Promise<void>;
  /** The service's process id while it runs. */
  pid(): number | undefined;
  /** Stops the service by its pid (SIGTERM, then SIGKILL) and stops supervising it. */
  stop(): Promise<void>;
}

/** Longest unix socket path the kernel takes (`sun_path` is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;
/** File next to the socket holding the service's pid, to stop one an agent killed left behind. */
export const SERVICE_PID_FILE = "service.pid";
const PING_INTERVAL_MS = 20;
const STOP_GRACE_MS = 5_000;
const DEFAULT_BACKOFF: PodmanServiceBackoff = { minMs: 1_000, maxMs: 30_000, stableMs: 30_000 };
const STDERR_KEEP_BYTES = 4096;
const redact = createRedactor();

/**
 * The agent's libpod socket: `<stateDir>/podman/podman.sock`, or, when that path is too long for a
 * unix socket, a directory in the temp dir named for the state directory's hash.
 *
 * @example
 * toPodmanSocketPath("/var/lib/gpuaas-agent") // "/var/lib/gpuaas-agent/podman/podman.sock"
 */
export function toPodmanSocketPath(stateDir: string, tempDir: string = tmpdir()): string {
  const preferred = join(stateDir, "podman", "podman.sock");
  if (Buffer.byteLength(preferred) <= MAX_SOCKET_PATH_BYTES) return preferred;
  const hash = createHash("sha256").update(stateDir).digest("hex").slice(0, 16);
  return join(tempDir, `gpuaas-podman-${hash}`, "podman.sock");
}

/** Makes the socket's directory, private to this user, refusing one somebody else controls. */
async function preparePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`${dir} is not a directory owned by this user`);
  }
  if ((stat.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves true when `promise` settles within `ms`, false otherwise; leaves no timer behind. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stops a service an earlier agent (killed without a chance to stop it) left on this socket. */
async function stopLeftover(pidFile: string, socketPath: string): Promise<void> {
  const text = await readFile(pidFile, "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return;
  // Only the process this file names and whose command line is the service on this very socket.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const args = cmdline.split("\0");
  if (!args.includes("service") || !args.includes(`unix://${socketPath}`)) return;
  process.kill(pid, "SIGTERM");
  for (const deadline = Date.now() + STOP_GRACE_MS; Date.now() < deadline; ) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

/** The agent's environment variables the service gets (besides `CONTAINERS_*`): nothing secret. */
const SERVICE_ENV_NAMES: ReadonlySet<string> = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "XDG_RUNTIME_DIR",
  "XDG_CONFIG_HOME",
  "XDG_DATA_HOME",
  "TMPDIR",
  "LANG",
  "LC_ALL",
  "TZ",
  "REGISTRIES_CONFIG_PATH",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "DBUS_SESSION_BUS_ADDRESS",
]);

/**
 * The service's environment: only what podman needs from the agent's (paths, locale, proxies,
 * `CONTAINERS_*`), plus the driver's additions. The service lives as long as the agent and its
 * environment is readable in `/proc`; the agent's may hold secrets (under `gpuaas up` it is the
 * server's, with `DATABASE_URL`), so nothing is passed that is not on the list.
 *
 * @example
 * toServiceEnv({ PATH: "/usr/bin", DATABASE_URL: "postgres://u:p@db/x" }, { CONTAINERS_CONF: "/c" })
 * // { PATH: "/usr/bin", CONTAINERS_CONF: "/c" }
 */
export function toServiceEnv(
  base: Readonly<Record<string, string | undefined>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && (SERVICE_ENV_NAMES.has(key) || key.startsWith("CONTAINERS_"))) {
      env[key] = value;
    }
  }
  return { ...env, ...extra };
}

/** True when `GET /_ping` on the socket answers 200 within `timeoutMs`. */
export function pingPodman(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        socketPath,
        method: "GET",
        path: `${LIBPOD_API_PREFIX}/_ping`,
        headers: { host: "podman" },
      },
      (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode === 200));
        res.once("error", () => resolve(false));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

/**
 * Supervises `podman system service --time=0 unix://<socket>` (an argument array, no shell, the
 * environment of {@link toServiceEnv}): starts it on the first `ready()`, waits until `GET /_ping`
 * answers, starts it again when it exits (less and less often while it keeps dying), and stops it
 * by its pid on `stop()` (and when the agent's process exits). The service is not a daemon:
 * containers it started keep running when it stops.
 *
 * @example
 * const service = createPodmanService({ socketPath: toPodmanSocketPath(stateDir), env: { CONTAINERS_CONF: conf } });
 * await service.ready();
 */
export function createPodmanService(options: PodmanServiceOptions): PodmanService {
  const binary = options.binary ?? "podman";
  const { socketPath } = options;
  const dir = dirname(socketPath);
  const pidFile = join(dir, SERVICE_PID_FILE);
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const backoff: PodmanServiceBackoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const delayAfter = (count: number): number =>
    Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, count - 1));
  let child: ChildProcess | undefined;
  let up = false;
  let stopped = false;
  let starting: Promise<void> | undefined;
  // Failed starts and deaths since the service last stayed up for `backoff.stableMs`.
  let failures = 0;
  // The back-off step last told to `onExit`: a service that keeps dying is told once per step.
  let toldDelay = 0;
  let retryAt = 0;
  let lastError: Error | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let leftoverChecked = false;

  // A child outlives its parent unless killed: take the service down when the agent exits.
  const onProcessExit = (): void => {
    const pid = child?.pid;
    if (pid !== undefined && child?.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
  };

  const start = async (): Promise<void> => {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(`the socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes`);
    }
    await preparePrivateDir(dir);
    // Only before the first start: a service found then is an earlier agent's. Later, the pid
    // file names this supervisor's own (dead) child.
    if (!leftoverChecked) await stopLeftover(pidFile, socketPath);
    leftoverChecked = true;
    await rm(socketPath, { force: true });
    await options.beforeStart?.();
    let stderr = "";
    const spawned = spawn(binary, ["system", "service", "--time=0", `unix://${socketPath}`], {
      shell: false,
      env: toServiceEnv(process.env, options.env),
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise<string>((resolve) => {
      spawned.once("error", (error: NodeJS.ErrnoException) =>
        resolve(
          error.code === "ENOENT" ? `${binary} is not on PATH` : (error.code ?? "spawn failed"),
        ),
      );
      spawned.once("exit", (code, signal) =>
        resolve(`exited with ${code !== null ? `status ${code}` : `signal ${signal}`}`),
      );
    });
    spawned.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-STDERR_KEEP_BYTES);
    });
    // The agent's process must be free to exit while the service runs.
    spawned.unref();
    (spawned.stderr as { unref?: () => void } | null)?.unref?.();
    child = spawned;
    process.once("exit", onProcessExit);
    if (spawned.pid !== undefined) {
      await writeFile(pidFile, `${spawned.pid}\n`, { mode: 0o600 }).catch(() => undefined);
    }
    const why = (reason: string) =>
      new Error(
        `podman system service ${reason}${stderr.trim().length > 0 ? `: ${toExcerpt(redact(stderr.trim()), 1024)}` : ""}`,
      );
    let exitReason: string | undefined;
    void exited.then((reason) => {
      exitReason = reason;
    });
    for (const deadline = Date.now() + startTimeoutMs; ; ) {
      if (exitReason !== undefined) throw why(exitReason);
      if (await pingPodman(socketPath, 1_000)) break;
      if (exitReason !== undefined) throw why(exitReason);
      if (Date.now() > deadline) {
        await terminate(spawned);
        throw why(`did not answer on its socket within ${startTimeoutMs} ms`);
      }
      await sleep(PING_INTERVAL_MS);
    }
    up = true;
    const startedAt = Date.now();
    void exited.then((reason) => {
      up = false;
      if (child === spawned) child = undefined;
      process.removeListener("exit", onProcessExit);
      if (stopped) return;
      // Only a service that stayed up a while starts the back-off over; one that dies soon after
      // every start is started again less and less often.
      if (Date.now() - startedAt >= backoff.stableMs) {
        failures = 0;
        toldDelay = 0;
      }
      failures += 1;
      const delay = delayAfter(failures);
      lastError = why(reason);
      // After a first death the next request starts it at once; after repeated ones, requests
      // fail at once (the driver uses the CLI) until the delay has passed.
      retryAt = failures > 1 ? Date.now() + delay : 0;
      if (delay > toldDelay) {
        toldDelay = delay;
        options.onExit?.(lastError.message, delay);
      }
      // Start it again in the background.
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        retryAt = 0;
        void ready().catch(() => undefined);
      }, delay);
      restartTimer.unref();
    });
  };

  const terminate = async (target: ChildProcess): Promise<void> => {
    const pid = target.pid;
    if (pid === undefined || target.exitCode !== null || target.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => target.once("exit", () => resolve()));
    target.kill("SIGTERM");
    if (await settlesWithin(gone, STOP_GRACE_MS)) return;
    if (target.exitCode === null && target.signalCode === null) {
      target.kill("SIGKILL");
      await settlesWithin(gone, 1_000);
    }
  };

  const ready = (): Promise<void> => {
    if (stopped) return Promise.reject(new Error("the podman API service was stopped"));
    if (up && child !== undefined) return Promise.resolve();
    if (starting !== undefined) return starting;
    if (Date.now() < retryAt && lastError !== undefined) return Promise.reject(lastError);
    starting = start()
      .then(
        () => {
          retryAt = 0;
        },
        async (error: unknown) => {
          failures += 1;
          retryAt = Date.now() + delayAfter(failures);
          lastError = error instanceof Error ? error : new Error(String(error));
          const failed = child;
          child = undefined;
          up = false;
          process.removeListener("exit", onProcessExit);
          if (failed !== undefined) await terminate(failed);
          throw lastError;
        },
      )
      .finally(() => {
        starting = undefined;
      });
    return starting;
  };

  return {
    socketPath,
    ready,
    pid: () => (up ? child?.pid : undefined),
    async stop() {
      stopped = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      await starting?.catch(() => undefined);
      const running = child;
      if (running !== undefined) await terminate(running);
      child = undefined;
      up = false;
      process.removeListener("exit", onProcessExit);
      await rm(pidFile, { force: true });
      await rm(socketPath, { force: true });
    },
  };
}
