/**
 * The managed-ingress edge of a single-host install (`gpuaas up --edge-caddy /usr/bin/caddy`): a
 * Caddy child process whose admin API is a unix socket in a directory private to this user (the
 * data directory's `edge`, or the `unix:` `--caddy-admin-url`; never a TCP port, which every local
 * user could reach), started with a bootstrap config that only sets the admin listener, then given
 * the edge's base config (listener, optional TLS, the final 404 route) through `POST /load`. The
 * control plane's edge applier adds the routes. If a Caddy that started dies it is started again
 * with a growing delay and `onRestart` asks for a reconcile; a failed first start leaves nothing
 * running; `stop` ends it by its pid. Caddy's log lines are passed on without request headers,
 * query strings or anything shaped like a credential.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { access, chmod, constants, lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { FORWARD_AUTH_PATH, renderCaddyConfig } from "@gpuaas/ingress";
import { createCaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import type { ServerConfig } from "../http/server-config.js";
import { REDACTED, redactText } from "../reconcile/redact-secrets.js";

/** Where the started edge's admin API is, as the admin client and as Caddy's `admin.listen`. */
export interface EdgeAdminAddress {
  /** `unix:/abs/path`: what `--caddy-admin-url` takes. */
  readonly endpoint: string;
  /** The same address as Caddy's `admin.listen` (`unix//abs/path`). */
  readonly listen: string;
}

// Unix socket paths longer than this do not fit in sockaddr_un on Linux (108 bytes with the NUL).
const MAX_SOCKET_PATH = 107;

/**
 * The admin address of the edge `gpuaas up` starts: `--caddy-admin-url` when given (with
 * `--edge-caddy` the config refuses anything but a unix socket), else
 * `<data-dir>/edge/caddy-admin.sock`.
 */
export function toEdgeAdminAddress(config: ServerConfig): EdgeAdminAddress {
  const endpoint =
    config.caddy_admin_url !== ""
      ? config.caddy_admin_url.replace(/\/$/, "")
      : `unix:${join(resolve(config.data_dir), "edge", "caddy-admin.sock")}`;
  if (endpoint.startsWith("unix:")) {
    return { endpoint, listen: `unix/${endpoint.slice("unix:".length)}` };
  }
  return { endpoint, listen: new URL(endpoint).host };
}

/**
 * What keeps `gpuaas up` from starting its edge, checked before anything binds: the binary must
 * be executable and the admin socket path must fit. Empty when `--edge-caddy` is not set.
 */
export async function checkEdgeStart(config: ServerConfig): Promise<string[]> {
  if (config.edge_caddy === "") return [];
  const problems: string[] = [];
  try {
    await access(config.edge_caddy, constants.X_OK);
  } catch {
    problems.push(
      `--edge-caddy / GPUAAS_EDGE_CADDY: ${config.edge_caddy} is not an executable file`,
    );
  }
  const { endpoint } = toEdgeAdminAddress(config);
  if (endpoint.startsWith("unix:") && endpoint.length - "unix:".length > MAX_SOCKET_PATH) {
    problems.push(
      `--data-dir / GPUAAS_DATA_DIR: the edge's admin socket ${endpoint.slice(5)} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data directory or a shorter unix: --caddy-admin-url`,
    );
  }
  for (const [name, file] of [
    ["--edge-tls-cert-file / GPUAAS_EDGE_TLS_CERT_FILE", config.edge_tls_cert_file],
    ["--edge-tls-key-file / GPUAAS_EDGE_TLS_KEY_FILE", config.edge_tls_key_file],
  ] as const) {
    if (file === "") continue;
    try {
      await access(file, constants.R_OK);
    } catch {
      problems.push(`${name}: ${file} cannot be read`);
    }
  }
  return problems;
}

/** Options of {@link startCaddyEdge}. */
export interface CaddyEdgeOptions {
  readonly caddyBin: string;
  /**
   * Caddy's HOME, XDG dirs, bootstrap config and (by default) admin socket: made private to this
   * user (0700) on every start, refused when somebody else owns it.
   */
  readonly stateDir: string;
  /** A unix socket only; its directory must be this user's and closed to everybody else. */
  readonly admin: EdgeAdminAddress;
  /** The edge listener, e.g. `127.0.0.1:8081` or `:443`. */
  readonly listen: string;
  readonly tls?: { readonly certificateFile: string; readonly keyFile: string };
  /**
   * Receives Caddy's warnings and errors (every line when `verbose`), redacted (see
   * {@link redactCaddyLogLine}), and supervision notes.
   */
  readonly log: (line: string) => void;
  readonly verbose?: boolean;
  /** Called after Caddy was started again and has its base config: the routes must be re-added. */
  readonly onRestart?: () => void;
  /** How long one start may take until the admin API takes the base config; 15 s by default. */
  readonly startTimeoutMs?: number;
}

/** A running, supervised Caddy edge. */
export interface CaddyEdge {
  /** The pid of the Caddy running now (it changes when Caddy is restarted). */
  pid(): number;
  /** How many times Caddy was started again after it died. */
  restarts(): number;
  /** `caddy version`'s first word, e.g. `v2.6.2`. */
  readonly version: string;
  readonly admin: EdgeAdminAddress;
  /** Stops Caddy by its pid (SIGTERM, SIGKILL after 5 s) and ends the supervision. */
  stop(): Promise<void>;
}

const FIRST_RESTART_DELAY_MS = 1_000;
const MAX_RESTART_DELAY_MS = 30_000;
// A Caddy that ran this long before dying is restarted after the first delay again.
const STABLE_AFTER_MS = 60_000;

const alive = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts Caddy, loads the edge's base config and supervises it. Throws when the first start fails,
 * and then leaves no Caddy and no restart behind.
 */
export async function startCaddyEdge(options: CaddyEdgeOptions): Promise<CaddyEdge> {
  if (!options.admin.endpoint.startsWith("unix:")) {
    throw new Error(
      `the edge's admin API must be a unix socket, not ${options.admin.endpoint}: a TCP port is open to every local user`,
    );
  }
  const version = readCaddyVersion(options.caddyBin);
  const stateDir = resolve(options.stateDir);
  await preparePrivateDir(stateDir);
  const socketPath = options.admin.endpoint.slice("unix:".length);
  if (resolve(dirname(socketPath)) !== stateDir) await checkPrivateDir(dirname(socketPath));
  const bootstrapFile = join(stateDir, "caddy-bootstrap.json");
  await writeFile(
    bootstrapFile,
    JSON.stringify({ admin: { listen: options.admin.listen, config: { persist: false } } }),
    { mode: 0o600 },
  );
  const admin = createCaddyAdmin({ endpoint: options.admin.endpoint, timeoutMs: 5_000 });
  const base = renderCaddyConfig([], {
    adminListen: options.admin.listen,
    listen: [options.listen],
    // No route yet: the forward-auth address goes into each route the edge applier adds.
    authDial: "127.0.0.1:0",
    authPath: FORWARD_AUTH_PATH,
    ...(options.tls !== undefined ? { tls: options.tls } : {}),
  });
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // gpuaas up crashed or exited without stop(): never leave an edge behind.
    process.once("exit", () => {
      for (const child of alive) child.kill("SIGKILL");
    });
  }

  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let delay = FIRST_RESTART_DELAY_MS;
  let timer: NodeJS.Timeout | undefined;
  let tail = "";

  const pidFile = join(stateDir, "caddy.pid");
  await stopLeftover(pidFile, bootstrapFile);

  const launch = async (): Promise<void> => {
    await clearStaleSocket(options.admin.endpoint);
    if (stopping) throw new Error("the edge is stopping");
    tail = "";
    const started = Date.now();
    const spawned = spawn(options.caddyBin, ["run", "--config", bootstrapFile], {
      cwd: stateDir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: stateDir,
        XDG_CONFIG_HOME: join(stateDir, "config"),
        XDG_DATA_HOME: join(stateDir, "data"),
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = spawned;
    alive.add(spawned);
    // Set once Caddy took the base config: only then is its death the supervisor's business. A
    // start that fails is reported once, by this function's rejection (to the caller of the first
    // start, or to the restart loop), never also by the exit handler.
    let ready = false;
    let spawnError: Error | undefined;
    // "close" comes after the last stderr chunk, so a failure report has Caddy's last words.
    const closed = new Promise<void>((done) => {
      spawned.once("close", () => done());
      spawned.once("error", (error) => {
        spawnError = error;
        if (spawned.pid === undefined) done();
      });
    });
    spawned.once("exit", (code, signal) => {
      alive.delete(spawned);
      if (!ready || stopping || child !== spawned) return;
      if (Date.now() - started > STABLE_AFTER_MS) delay = FIRST_RESTART_DELAY_MS;
      options.log(
        `gpuaas edge: caddy (pid ${spawned.pid}) exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms\n`,
      );
      scheduleRestart();
    });
    forwardLog(
      spawned,
      options,
      (line) => {
        tail = `${tail}${line}\n`.slice(-4000);
      },
      () => stopping,
    );
    try {
      if (spawned.pid === undefined) {
        await closed;
        throw spawnError ?? new Error(`${options.caddyBin} did not start`);
      }
      await writeFile(pidFile, `${spawned.pid}\n`, { mode: 0o600 });
      const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
      for (;;) {
        if (spawned.exitCode !== null || spawned.signalCode !== null) {
          await closed;
          throw new Error(`caddy exited during start-up:\n${tail.trim()}`);
        }
        try {
          await admin.load(base);
          ready = true;
          return;
        } catch (error) {
          const rejected = (error as { code?: string }).code === "caddy_admin.rejected";
          if (rejected || Date.now() > deadline) {
            const why = error instanceof Error ? error.message : String(error);
            throw new Error(`caddy did not take the edge's base config: ${why}`);
          }
          await new Promise((done) => setTimeout(done, 50));
        }
      }
    } catch (error) {
      if (spawned.exitCode === null && spawned.signalCode === null && spawned.pid !== undefined) {
        spawned.kill("SIGKILL");
        await closed;
      }
      alive.delete(spawned);
      const last = tail.trim();
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(message.includes(last) ? message : `${message}\n${last}`);
    }
  };

  // Idempotent: at most one restart is ever pending, however many paths ask for it.
  const scheduleRestart = (): void => {
    if (stopping || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (stopping) return;
      delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
      launch().then(
        () => {
          if (stopping) return;
          restarts += 1;
          options.log(`gpuaas edge: caddy started again (pid ${child?.pid}); re-adding routes\n`);
          options.onRestart?.();
        },
        (error: unknown) => {
          if (stopping) return;
          options.log(
            `gpuaas edge: starting caddy again failed (${error instanceof Error ? error.message.split("\n")[0] : String(error)}); next try in ${delay} ms\n`,
          );
          scheduleRestart();
        },
      );
    }, delay);
  };

  try {
    await launch();
  } catch (error) {
    stopping = true;
    if (child !== undefined) {
      // The killed Caddy could not remove its socket; nobody else answered on it (launch checked).
      await rm(pidFile, { force: true });
      await rm(socketPath, { force: true });
    }
    throw error;
  }
  return {
    pid: () => child?.pid ?? 0,
    restarts: () => restarts,
    version,
    admin: options.admin,
    async stop() {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const current = child;
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) {
        await rm(pidFile, { force: true });
        return;
      }
      const exited = new Promise<void>((done) => current.once("exit", () => done()));
      current.kill("SIGTERM");
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((done) => setTimeout(() => done(false), 5_000).unref()),
      ]);
      if (!killed) {
        current.kill("SIGKILL");
        await exited;
      }
      await rm(pidFile, { force: true });
    },
  };
}

/**
 * Makes `dir` a directory private to this user: created 0700, chmod 0700 when it already existed
 * with a looser mode, refused when it is not a directory (a symlink included) or somebody else
 * owns it. Caddy's admin socket lives there: whoever reaches it can load any config.
 */
async function preparePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await lstat(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(`${dir} is not a directory owned by this user; refusing to put the edge there`);
  }
  if ((stat.mode & 0o777) !== 0o700) await chmod(dir, 0o700);
}

/**
 * Refuses an admin socket directory the operator chose (`--caddy-admin-url unix:…`) unless it is
 * this user's and closed to everybody else; it is not ours to chmod.
 */
async function checkPrivateDir(dir: string): Promise<void> {
  const stat = await lstat(dir).catch(() => undefined);
  const uid = process.getuid?.();
  if (stat === undefined || !stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new Error(
      `the edge's admin socket directory ${dir} is not a directory owned by this user`,
    );
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new Error(
      `the edge's admin socket directory ${dir} is open to other users (mode ${(stat.mode & 0o777).toString(8)}); chmod 700 it`,
    );
  }
}

/**
 * Stops the Caddy a killed `gpuaas up` left running (SIGKILL gives it no chance to stop its
 * child): the pid in `pidFile`, only if that process is still `caddy run` with our bootstrap
 * config, so a recycled pid is never signalled.
 */
async function stopLeftover(pidFile: string, bootstrapFile: string): Promise<void> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!cmdline.split("\0").includes(bootstrapFile)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((done) => setTimeout(done, 50));
  }
  process.kill(pid, "SIGKILL");
}

/** `caddy version`'s first word; throws with Caddy's output when it does not run. */
function readCaddyVersion(bin: string): string {
  const result = spawnSync(bin, ["version"], { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0) {
    throw new Error(
      `${bin} version failed: ${(result.stderr || result.error?.message || "").trim()}`,
    );
  }
  return result.stdout.trim().split(/\s+/)[0] ?? "?";
}

/** Removes a unix admin socket nobody answers on (left by a Caddy that was killed). */
async function clearStaleSocket(endpoint: string): Promise<void> {
  if (!endpoint.startsWith("unix:")) return;
  const path = endpoint.slice("unix:".length);
  const answers = await new Promise<boolean>((done) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      done(true);
    });
    socket.once("error", () => done(false));
  });
  if (answers) {
    throw new Error(
      `something already answers on the edge's admin socket ${path}: is another gpuaas up running with this data directory?`,
    );
  }
  await rm(path, { force: true });
}

// Fields of Caddy's log entries dropped whole: request and response headers carry cookies, the
// user's bearer token, the identity assertion.
const DROPPED_LOG_FIELDS = new Set(["headers", "resp_headers", "Header"]);

/**
 * One of Caddy's log lines as `gpuaas up` shows it: in a JSON entry, no request or response
 * headers and no query string on a `uri` (the one-time sign-in ticket travels there); then
 * anything shaped like a bearer token or a JWT replaced, in JSON and plain lines alike.
 *
 * @example
 * redactCaddyLogLine('{"request":{"uri":"/cb?ticket=x","headers":{"Cookie":["a"]}}}')
 * // '{"request":{"uri":"/cb?[REDACTED]"}}'
 */
export function redactCaddyLogLine(line: string): string {
  let text = line;
  try {
    const entry: unknown = JSON.parse(line);
    if (typeof entry === "object" && entry !== null) text = JSON.stringify(scrubLogEntry(entry, 0));
  } catch {
    // not JSON: Caddy's own start-up failure text
  }
  return redactText(text);
}

function scrubLogEntry(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > 16) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => scrubLogEntry(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED_LOG_FIELDS.has(key)) continue;
    if (key === "uri" && typeof item === "string") {
      const query = item.indexOf("?");
      out[key] = query < 0 ? item : `${item.slice(0, query)}?${REDACTED}`;
    } else {
      out[key] = scrubLogEntry(item, depth + 1);
    }
  }
  return out;
}

const LOUD_LEVELS = new Set(["warn", "error", "fatal", "panic"]);
// Warnings the edge's own choices cause: the renderer turns automatic HTTPS off on purpose.
const EXPECTED_WARNINGS = new Set(["automatic HTTPS is completely disabled for server"]);

/**
 * Passes Caddy's warnings and errors on (every line when verbose), each redacted, and keeps every
 * redacted line for a failure report.
 */
function forwardLog(
  child: ChildProcess,
  options: CaddyEdgeOptions,
  keep: (line: string) => void,
  stopping: () => boolean,
): void {
  let partial = "";
  const pass = (line: string): void => {
    if (line.trim() === "") return;
    let level = "error";
    let message = "";
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      level = String(entry.level ?? "");
      message = String(entry.msg ?? "");
    } catch {
      // not JSON: Caddy's own start-up failure text; always worth showing
    }
    const shown = redactCaddyLogLine(line);
    keep(shown);
    const loud = LOUD_LEVELS.has(level) && !EXPECTED_WARNINGS.has(message) && !stopping();
    if (options.verbose === true || loud) options.log(`${shown}\n`);
  };
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) pass(line);
  });
  child.stderr?.on("end", () => {
    pass(partial);
    partial = "";
  });
}
