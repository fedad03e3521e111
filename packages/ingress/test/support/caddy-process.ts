// Runs a real Caddy (`caddy run`) for the tests: a config file in a temp dir, HOME and XDG dirs
// there too (no autosave or storage outside it), readiness by polling the admin API, stopped by
// pid (SIGTERM, then SIGKILL) even when a test fails.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CaddyAdmin } from "../../src/caddy-admin.js";

/** True when a `caddy` binary runs here. */
export function hasCaddy(): boolean {
  return spawnSync("caddy", ["version"], { timeout: 10_000 }).status === 0;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A running Caddy. */
export interface CaddyProcess {
  readonly pid: number;
  readonly dir: string;
  /** The last lines Caddy logged, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/** Starts `caddy run` with `config` and waits until `admin` answers (at most `timeoutMs`). */
export async function startCaddy(
  config: unknown,
  admin: CaddyAdmin,
  timeoutMs = 15_000,
): Promise<CaddyProcess> {
  const dir = mkdtempSync(join(tmpdir(), "gpuaas-caddy-"));
  const file = join(dir, "caddy.json");
  writeFileSync(file, JSON.stringify(config));
  const child = spawn("caddy", ["run", "--config", file], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "config"),
      XDG_DATA_HOME: join(dir, "data"),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  let log = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    log = (log + chunk).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000)),
      ]);
      if (!killed) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`caddy exited with ${child.exitCode}:\n${log}`);
    }
    try {
      await admin.listRoutes();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `caddy's admin API did not answer in ${timeoutMs} ms: ${String(error)}\n${log}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { pid: child.pid ?? 0, dir, log: () => log, stop };
}
