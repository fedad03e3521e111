import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const bin = new URL("../dist/bin.js", import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), "gpuaas-up-"));
const started: ChildProcess[] = [];

after(() => {
  for (const child of started) child.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts `gpuaas up` on a free port and resolves with its stdout once it is listening. */
function up(args: string[]): Promise<{ child: ChildProcess; url: string; stdout: string }> {
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
        resolve({ child, url: match[1], stdout });
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
});
