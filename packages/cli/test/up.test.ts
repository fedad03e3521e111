import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const bin = new URL("../dist/bin.js", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "gpuaas-up-"));
const started: ChildProcess[] = [];

const busyDataDir = mkdtempSync(join(tmpdir(), "gpuaas-up-busy-"));

after(() => {
  for (const child of started) child.kill("SIGKILL");
  for (const pid of findCaddies(busyDataDir)) process.kill(pid, "SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(busyDataDir, { recursive: true, force: true });
});

const caddyMissing =
  spawnSync("caddy", ["version"], { timeout: 10_000 }).status === 0
    ? false
    : "caddy is not installed: GPUAAS_SETUP_TEST_DEPS=1 bash scripts/setup.sh installs it";
if (caddyMissing !== false && process.env.CI === "true") {
  throw new Error(`the gpuaas up edge test must run in CI: ${caddyMissing}`);
}

/** Starts `gpuaas up` on a free port and resolves with its stdout once it is listening. */
function up(
  args: string[],
): Promise<{ child: ChildProcess; url: string; stdout: string; stderr: () => string }> {
  const child = spawn(
    process.execPath,
    [bin, "up", "--data-dir", dataDir, "--port", "0", ...args],
    {
      env: { ...process.env, DATABASE_URL: "", GPUAAS_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gpuaas up did not start in 60 s: ${stderr}`)),
      60_000,
    );
    child.stdout?.on("data", (chunk) => {
      stdout += String(chunk);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (match?.[1] && stdout.includes("try:")) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stdout, stderr: () => stderr });
      }
    });
    child.once("exit", (code) => reject(new Error(`gpuaas up exited ${code}: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  child.kill("SIGTERM");
  return exited;
}

describe("gpuaas up", () => {
  it("refuses an invalid configuration before binding, naming every problem", () => {
    const result = spawnSync(
      process.execPath,
      [bin, "up", "--port", "99999", "--registry-url", "http://registry.example:5000"],
      {
        env: { ...process.env, DATABASE_URL: "", GPUAAS_DATA_DIR: dataDir },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--port \/ GPUAAS_PORT/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  });

  it("starts on PGlite, prints a token once, serves the curated catalog, and keeps state across restarts", async () => {
    const first = await up([]);
    const tokenPath = join(dataDir, "admin.token");
    const token = readFileSync(tokenPath, "utf8").trim();
    assert.equal(statSync(tokenPath).mode & 0o777, 0o600);
    assert.ok(first.stdout.includes(token), "the first run prints the operator token");
    const headers = { authorization: `Bearer ${token}` };
    const catalog = (await (
      await fetch(`${first.url}/api/v1/apps/catalog`, { headers })
    ).json()) as { items: { slug: string }[] };
    assert.deepEqual(catalog.items.map((app) => app.slug).sort(), [
      "code-server",
      "jupyterlab",
      "openclaw",
      "vllm-openai",
    ]);
    const anonymous = await fetch(`${first.url}/api/v1/apps/catalog`);
    assert.equal(anonymous.status, 401);
    assert.equal(await stop(first.child), 0);

    const second = await up([]);
    assert.ok(!second.stdout.includes(token), "a restart does not print the token again");
    assert.equal(readFileSync(tokenPath, "utf8").trim(), token);
    const again = (await (
      await fetch(`${second.url}/api/v1/apps/catalog`, { headers })
    ).json()) as { items: { versions: unknown[] }[] };
    assert.equal(again.items.length, 4);
    assert.ok(
      again.items.every((app) => app.versions.length === 1),
      "restarting registers no duplicate versions",
    );
    assert.equal(await stop(second.child), 0);
  });

  it("runs an agent for this host with one allocation, reused across restarts, unless --no-agent", async () => {
    // Whether a runtime answers here decides what the first run reports; both outcomes are shown.
    const first = await up([]);
    const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    const headers = { authorization: `Bearer ${token}` };
    assert.match(first.stdout, /rootcertbundle \S+registry-token\/cert\.pem/);
    const agentRuns = !/agent: {4}not started/.test(first.stdout);
    if (agentRuns) {
      assert.match(first.stdout, /launches: handed to node agents \(enabled by default/);
      assert.equal(await stop(first.child), 0);
      const second = await up([]);
      assert.match(second.stdout, /reused its stored node credential/);
      assert.doesNotMatch(second.stdout, /\(new\)|, new\)/, "nothing is created again");
      const nodes = (await (await fetch(`${second.url}/api/v1/nodes`, { headers })).json()) as {
        items: { state: string }[];
      };
      assert.equal(nodes.items.length, 1);
      assert.equal(nodes.items[0]?.state, "online");
      const me = (await (await fetch(`${second.url}/api/v1/me`, { headers })).json()) as {
        projects: { id: string }[];
      };
      const project = me.projects[0]?.id ?? "";
      const allocations = (await (
        await fetch(`${second.url}/api/v1/projects/${project}/allocations`, { headers })
      ).json()) as { items: { storage_modes: string[]; accelerator: { vendor: string } }[] };
      assert.equal(allocations.items.length, 1, "one allocation in the default project");
      assert.deepEqual(allocations.items[0]?.storage_modes, ["scratch", "project_storage"]);
      assert.equal(statSync(join(dataDir, "agent", "agent-state.json")).mode & 0o777, 0o600);
      assert.equal(await stop(second.child), 0);
    } else {
      assert.match(first.stdout, /launches: refused until a node agent runs here/);
      assert.equal(await stop(first.child), 0);
    }
    const without = await up(["--no-agent"]);
    assert.match(without.stdout, /agent: {4}not started \(--no-agent\)/);
    assert.match(without.stdout, /launches: refused until a node agent runs here/);
    assert.equal(await stop(without.child), 0);
  });

  it("starts a loopback Caddy edge with --edge-caddy, restarts it when it dies, and stops it at exit or on the next start", {
    skip: caddyMissing,
  }, async () => {
    const edgePort = await freePort();
    const caddy = spawnSync("sh", ["-c", "command -v caddy"], { encoding: "utf8" }).stdout.trim();
    const args = [
      "--no-agent",
      "--managed-ingress-host-map",
      '{"http-echo.web":"*.apps.example.test"}',
      "--ingress-domain",
      "apps.example.test",
      "--edge-caddy",
      caddy,
      "--edge-listen",
      `127.0.0.1:${edgePort}`,
    ];
    const started = await up(args);
    const pid = Number(/edge: {5}caddy \S+ \(pid (\d+)\)/.exec(started.stdout)?.[1]);
    assert.ok(pid > 0, started.stdout);
    assert.match(started.stdout, /ingress: {2}http-echo\.web → \*\.apps\.example\.test/);
    const socket = join(dataDir, "edge", "caddy-admin.sock");
    assert.match(started.stdout, new RegExp(`admin API unix:${socket}`));
    assert.ok(statSync(socket).isSocket(), "the admin API is a unix socket in the data directory");
    assert.equal(statSync(join(dataDir, "edge")).mode & 0o777, 0o700);
    assert.equal(await edgeStatus(edgePort), 404, "an unknown host gets 404 from the edge");

    process.kill(pid, "SIGKILL");
    const again = await waitFor(async () => {
      const match = /caddy started again \(pid (\d+)\)/.exec(started.stderr());
      return match === null ? undefined : Number(match[1]);
    });
    assert.notEqual(again, pid);
    assert.equal(await edgeStatus(edgePort), 404, "the restarted edge has its base config");

    // Killed outright, gpuaas up cannot stop its Caddy; the next start stops the leftover by pid.
    const killed = new Promise((resolve) => started.child.once("exit", resolve));
    started.child.kill("SIGKILL");
    await killed;
    process.kill(again, 0);
    const next = await up(args);
    assert.throws(() => process.kill(again, 0), /ESRCH/, "the leftover Caddy was stopped");
    const current = Number(/edge: {5}caddy \S+ \(pid (\d+)\)/.exec(next.stdout)?.[1]);
    assert.equal(await edgeStatus(edgePort), 404);

    assert.equal(await stop(next.child), 0);
    assert.throws(() => process.kill(current, 0), /ESRCH/, "gpuaas up stopped its Caddy");
    assert.equal(existsSync(socket), false);
  });

  it("exits 1 naming the problem when its edge cannot start, leaving no Caddy and no restart running", {
    skip: caddyMissing,
    timeout: 90_000,
  }, async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as AddressInfo;
    const caddy = spawnSync("sh", ["-c", "command -v caddy"], { encoding: "utf8" }).stdout.trim();
    const child = spawn(
      process.execPath,
      [
        bin,
        "up",
        "--data-dir",
        busyDataDir,
        "--port",
        "0",
        "--no-agent",
        "--edge-caddy",
        caddy,
        "--edge-listen",
        `127.0.0.1:${port}`,
      ],
      { env: { ...process.env, DATABASE_URL: "", GPUAAS_LOG_LEVEL: "warn" }, stdio: "pipe" },
    );
    started.push(child);
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
    });
    let stdout = "";
    child.stdout?.on("data", (chunk) => {
      stdout += String(chunk);
    });
    try {
      // Without the fix the restart loop kept gpuaas up alive (and deaf to SIGINT) for ever.
      const code = await new Promise<number | null | "still running">((resolve) => {
        const timer = setTimeout(() => resolve("still running"), 45_000);
        child.once("exit", (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        new RegExp(
          `gpuaas up: the edge \\(.*caddy\\) did not start: .*127\\.0\\.0\\.1:${port}.*address already in use`,
        ),
      );
      assert.doesNotMatch(stderr, /starting it again|caddy started again/);
      assert.equal(stdout, "", "no summary: the control plane never started");
      assert.equal(existsSync(join(busyDataDir, "edge", "caddy.pid")), false);
      assert.deepEqual(findCaddies(busyDataDir), [], "no Caddy is left running");
    } finally {
      busy.close();
    }
  });
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

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The edge's status for a host no route claims. */
function edgeStatus(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/",
        agent: false,
        headers: { host: "nope.apps.example.test" },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
