import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ControlPlane } from "@gpuaas/server";
import { DEFAULT_PROFILES_DIR, runUp } from "./up-command.js";

const caddy = spawnSync("sh", ["-c", "command -v caddy"], { encoding: "utf8" }).stdout.trim();
const caddyMissing =
  caddy === "" ? "caddy is not installed: GPUAAS_SETUP_TEST_DEPS=1 bash scripts/setup.sh" : false;
if (caddyMissing !== false && process.env.CI === "true") {
  throw new Error(`the gpuaas up clean-up test must run in CI: ${caddyMissing}`);
}

const dataDir = mkdtempSync(join(tmpdir(), "gpuaas-up-cmd-"));
let leftPlane: ControlPlane | undefined;

after(async () => {
  if (leftPlane?.app.server.listening === true) await leftPlane.close();
  for (const pid of findCaddies(dataDir)) process.kill(pid, "SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Pids of the Caddy processes whose command line names a bootstrap config under `dir`. */
function findCaddies(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const args = cmdline.split("\0");
    if (args.some((arg) => arg.startsWith(dir) && arg.endsWith("caddy-bootstrap.json"))) {
      pids.push(Number(name));
    }
  }
  return pids;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("runUp", () => {
  it("stops the control plane and the edge it started when the agent's start throws", {
    skip: caddyMissing,
    timeout: 120_000,
  }, async () => {
    const databaseUrl = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    const signalListeners = process.listenerCount("SIGINT") + process.listenerCount("SIGTERM");
    let stderr = "";
    let edgePid = 0;
    try {
      const running = runUp(
        {
          profiles: DEFAULT_PROFILES_DIR,
          agent: false,
          dataDir,
          port: "0",
          logLevel: "warn",
          edgeCaddy: caddy,
          edgeListen: `127.0.0.1:${await freePort()}`,
        },
        {
          stdout: () => undefined,
          stderr: (text) => {
            stderr += text;
          },
        },
        () => undefined,
        {
          startLocalAgent: async (plane) => {
            leftPlane = plane;
            edgePid = Number(readFileSync(join(dataDir, "edge", "caddy.pid"), "utf8"));
            throw new Error("the agent broke on start");
          },
        },
      );
      await assert.rejects(running, /the agent broke on start/);
    } finally {
      if (databaseUrl !== undefined) process.env.DATABASE_URL = databaseUrl;
    }
    assert.ok(edgePid > 0, stderr);
    assert.ok(leftPlane !== undefined, stderr);
    assert.equal(leftPlane.app.server.listening, false, "the control plane was closed");
    assert.throws(() => process.kill(edgePid, 0), /ESRCH/, "the edge's Caddy was stopped");
    assert.deepEqual(findCaddies(dataDir), []);
    assert.equal(existsSync(join(dataDir, "edge", "caddy.pid")), false);
    assert.equal(
      process.listenerCount("SIGINT") + process.listenerCount("SIGTERM"),
      signalListeners,
      "Ctrl-C works again: the stop listeners are gone",
    );
  });
});
