// A CNCF distribution registry (Debian's docker-registry 2.8.2) in token-auth mode on 127.0.0.1,
// trusting the control plane's registry token service: `auth.token` with the realm, service,
// issuer and rootcertbundle given. A second registry process without auth serves the same
// storage directory so tests can push images from Node without a token.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findFreePort } from "./registry-fixture.js";

/** A running token-auth registry and its unauthenticated twin for pushes. */
export interface TokenRegistry {
  /** `http://127.0.0.1:<port>` of the token-auth registry. */
  readonly url: string;
  /** `127.0.0.1:<port>`: the registry part of a repository. */
  readonly host: string;
  /** `http://127.0.0.1:<port>` of the registry without auth, on the same storage (push here). */
  readonly pushUrl: string;
  readonly pids: readonly number[];
  /** Stops both registries (SIGTERM, then SIGKILL after 5 s) and removes the storage. */
  stop(): Promise<void>;
}

/** What the registry must trust. */
export interface TokenAuthSettings {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** Path of the PEM certificate the token service signs with. */
  readonly rootCertBundle: string;
  /** The token-auth registry's port (a free one when absent). */
  readonly port?: number;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

interface Spawned {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stderr(): string;
}

function spawnRegistry(config: string): Spawned {
  const child = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined);
  return { child, exited, stderr: () => stderr };
}

async function stopSpawned(spawned: Spawned): Promise<void> {
  const { child, exited } = spawned;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  process.kill(child.pid, "SIGTERM");
  const timer = new Promise<"timeout">((resolve) =>
    setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS).unref(),
  );
  if ((await Promise.race([exited, timer])) === "timeout") {
    process.kill(child.pid, "SIGKILL");
    await exited;
  }
}

async function waitForStatus(url: string, status: number, spawned: Spawned): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (spawned.child.exitCode !== null) {
      throw new Error(`docker-registry exited with ${spawned.child.exitCode}: ${spawned.stderr()}`);
    }
    try {
      const response = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.status === status) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `no ${status} from ${url}/v2/ within ${START_TIMEOUT_MS} ms: ${spawned.stderr()}`,
  );
}

/** Starts the token-auth registry and its push twin on free loopback ports. */
export async function startTokenRegistry(settings: TokenAuthSettings): Promise<TokenRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "gpuaas-token-registry-"));
  const storage = `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`;
  const log = "log: { level: error, accesslog: { disabled: true } }";
  const spawned: Spawned[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(spawned.map(stopSpawned));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const tokenPort = settings.port ?? (await findFreePort());
    const pushPort = await findFreePort();
    const tokenConfig = join(dir, "token.yml");
    await writeFile(
      tokenConfig,
      [
        "version: 0.1",
        log,
        storage,
        `http: { addr: 127.0.0.1:${tokenPort} }`,
        "auth:",
        "  token:",
        `    realm: ${JSON.stringify(settings.realm)}`,
        `    service: ${JSON.stringify(settings.service)}`,
        `    issuer: ${JSON.stringify(settings.issuer)}`,
        `    rootcertbundle: ${JSON.stringify(settings.rootCertBundle)}`,
        "",
      ].join("\n"),
    );
    const pushConfig = join(dir, "push.yml");
    await writeFile(
      pushConfig,
      ["version: 0.1", log, storage, `http: { addr: 127.0.0.1:${pushPort} }`, ""].join("\n"),
    );
    const tokenRegistry = spawnRegistry(tokenConfig);
    spawned.push(tokenRegistry);
    const pushRegistry = spawnRegistry(pushConfig);
    spawned.push(pushRegistry);
    const url = `http://127.0.0.1:${tokenPort}`;
    const pushUrl = `http://127.0.0.1:${pushPort}`;
    await Promise.all([
      waitForStatus(url, 401, tokenRegistry),
      waitForStatus(pushUrl, 200, pushRegistry),
    ]);
    return {
      url,
      host: `127.0.0.1:${tokenPort}`,
      pushUrl,
      pids: spawned.flatMap((item) => (item.child.pid === undefined ? [] : [item.child.pid])),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
