/**
 * The managed-ingress edge of a single-host install (`gpuaas up --edge-caddy /usr/bin/caddy`): a
 * Caddy child process whose admin API is a unix socket in the data directory (or the loopback
 * `--caddy-admin-url`), started with a bootstrap config that only sets the admin listener, then
 * given the edge's base config (listener, optional TLS, the final 404 route) through `POST /load`.
 * The control plane's edge applier adds the routes. If Caddy dies it is started again with a
 * growing delay and `onRestart` asks for a reconcile; `stop` ends it by its pid.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { access, constants, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { FORWARD_AUTH_PATH, renderCaddyConfig } from "@gpuaas/ingress";
import { createCaddyAdmin } from "@gpuaas/ingress/caddy-admin";
import type { ServerConfig } from "../http/server-config.js";

/** Where the started edge's admin API is, as the admin client and as Caddy's `admin.listen`. */
export interface EdgeAdminAddress {
  /** `unix:/abs/path` or `http://127.0.0.1:<port>`: what `--caddy-admin-url` takes. */
  readonly endpoint: string;
  /** The same address as Caddy's `admin.listen` (`unix//abs/path`, `127.0.0.1:<port>`). */
  readonly listen: string;
}

// Unix socket paths longer than this do not fit in sockaddr_un on Linux (108 bytes with the NUL).
const MAX_SOCKET_PATH = 107;

/**
 * The admin address of the edge `gpuaas up` starts: `--caddy-admin-url` when given (the config
 * already refused anything but loopback and unix sockets), else `<data-dir>/edge/caddy-admin.sock`.
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
      `--data-dir / GPUAAS_DATA_DIR: the edge's admin socket ${endpoint.slice(5)} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data directory or a loopback --caddy-admin-url`,
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
  /** Caddy's HOME, XDG dirs, bootstrap config and (by default) admin socket. */
  readonly stateDir: string;
  readonly admin: EdgeAdminAddress;
  /** The edge listener, e.g. `127.0.0.1:8081` or `:443`. */
  readonly listen: string;
  readonly tls?: { readonly certificateFile: string; readonly keyFile: string };
  /** Receives Caddy's warnings and errors (every line when `verbose`), and supervision notes. */
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

/** Starts Caddy, loads the edge's base config and supervises it. Throws when the first start fails. */
export async function startCaddyEdge(options: CaddyEdgeOptions): Promise<CaddyEdge> {
  const version = readCaddyVersion(options.caddyBin);
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  const bootstrapFile = join(options.stateDir, "caddy-bootstrap.json");
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

  const pidFile = join(options.stateDir, "caddy.pid");
  await stopLeftover(pidFile, bootstrapFile);

  const launch = async (): Promise<void> => {
    await clearStaleSocket(options.admin.endpoint);
    const started = Date.now();
    const spawned = spawn(options.caddyBin, ["run", "--config", bootstrapFile], {
      cwd: options.stateDir,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: options.stateDir,
        XDG_CONFIG_HOME: join(options.stateDir, "config"),
        XDG_DATA_HOME: join(options.stateDir, "data"),
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = spawned;
    alive.add(spawned);
    await writeFile(pidFile, `${spawned.pid}\n`, { mode: 0o600 });
    forwardLog(
      spawned,
      options,
      (text) => {
        tail = (tail + text).slice(-4000);
      },
      () => stopping,
    );
    const exited = new Promise<void>((done) => spawned.once("exit", () => done()));
    spawned.once("error", () => undefined);
    spawned.once("exit", (code, signal) => {
      alive.delete(spawned);
      if (stopping || child !== spawned) return;
      const ranMs = Date.now() - started;
      if (ranMs > STABLE_AFTER_MS) delay = FIRST_RESTART_DELAY_MS;
      options.log(
        `gpuaas edge: caddy (pid ${spawned.pid}) exited (${signal ?? `code ${code}`}); starting it again in ${delay} ms\n`,
      );
      scheduleRestart();
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
    for (;;) {
      if (spawned.exitCode !== null || spawned.signalCode !== null) {
        throw new Error(`caddy exited during start-up:\n${tail.trim()}`);
      }
      try {
        await admin.load(base);
        return;
      } catch (error) {
        const rejected = (error as { code?: string }).code === "caddy_admin.rejected";
        if (rejected || Date.now() > deadline) {
          spawned.kill("SIGKILL");
          await exited;
          const why = error instanceof Error ? error.message : String(error);
          throw new Error(`caddy did not take the edge's base config: ${why}\n${tail.trim()}`);
        }
        await new Promise((done) => setTimeout(done, 50));
      }
    }
  };

  const scheduleRestart = (): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (stopping) return;
      launch().then(
        () => {
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
      delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    }, delay);
  };

  await launch();
  return {
    pid: () => child?.pid ?? 0,
    restarts: () => restarts,
    version,
    admin: options.admin,
    async stop() {
      stopping = true;
      if (timer !== undefined) clearTimeout(timer);
      const current = child;
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
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

const LOUD_LEVELS = new Set(["warn", "error", "fatal", "panic"]);
// Warnings the edge's own choices cause: the renderer turns automatic HTTPS off on purpose.
const EXPECTED_WARNINGS = new Set(["automatic HTTPS is completely disabled for server"]);

/** Passes Caddy's warnings and errors on (every line when verbose); keeps the rest for failures. */
function forwardLog(
  child: ChildProcess,
  options: CaddyEdgeOptions,
  keep: (text: string) => void,
  stopping: () => boolean,
): void {
  let partial = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    keep(chunk);
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      let level = "error";
      let message = "";
      try {
        const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
        level = String(entry.level ?? "");
        message = String(entry.msg ?? "");
      } catch {
        // not JSON: Caddy's own start-up failure text; always worth showing
      }
      const loud = LOUD_LEVELS.has(level) && !EXPECTED_WARNINGS.has(message) && !stopping();
      if (options.verbose === true || loud) options.log(`${line}\n`);
    }
  });
}
