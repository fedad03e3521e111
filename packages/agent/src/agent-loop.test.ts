import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createAgentClient } from "./agent-client.js";
import { createAgentLoop } from "./agent-loop.js";
import { AGENT_STATE_FILE, loadAgentState } from "./agent-state.js";
import type { LaunchTaskInput, OciExecutor } from "./create-oci-executor.js";
import type { OciRuntimeStatusResult } from "./run-oci-runtime-status.js";

const PASSWORD = "gpuaas_pull_0123456789abcdefghijklmnop";
const BOOTSTRAP = "gpuaas_nbt_bootstrap-token-for-tests";

interface Call {
  readonly path: string;
  readonly auth: string | undefined;
  readonly body: Record<string, unknown>;
}

/** A control plane that speaks just enough of the agent protocol, recording every call. */
class FakeControlPlane {
  readonly calls: Call[] = [];
  readonly queue: Record<string, unknown>[] = [];
  credential = "gpuaas_node_first-credential";
  registrations = 0;
  server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(([status, body]) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no address");
    this.url = `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  of(path: string): Call[] {
    return this.calls.filter((call) => call.path === path);
  }

  private async handle(request: IncomingMessage): Promise<[number, unknown]> {
    let text = "";
    for await (const chunk of request) text += String(chunk);
    const path = (request.url ?? "").replace("/api/v1/agent", "");
    const auth = request.headers.authorization;
    this.calls.push({ path, auth, body: text.length > 0 ? JSON.parse(text) : {} });
    if (path === "/register") {
      this.registrations += 1;
      this.credential = `gpuaas_node_credential-${this.registrations}`;
      return [
        201,
        {
          node_id: "node-1",
          node_credential: this.credential,
          heartbeat_interval_ms: 60_000,
          lease_ms: 3_000,
        },
      ];
    }
    if (auth !== `Bearer ${this.credential}`) {
      return [401, { code: "auth.invalid_token", message: "unknown credential" }];
    }
    if (path === "/heartbeat") {
      return [
        200,
        { node_id: "node-1", state: "online", heartbeat_interval_ms: 60_000, lease_ms: 3_000 },
      ];
    }
    if (path === "/inventory/containers")
      return [200, { reconciled: [], skipped: [], orphans: [] }];
    if (path === "/leases") {
      const lease = this.queue.shift();
      if (lease === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
      return [200, { leases: lease === undefined ? [] : [lease] }];
    }
    if (path.endsWith("/extend")) return [200, { lease_expires_at: new Date().toISOString() }];
    if (path.endsWith("/result")) {
      return [200, { task_id: "t", state: "succeeded", duplicate: false, instance: null }];
    }
    return [404, { code: "request.not_found", message: path }];
  }
}

function status(): OciRuntimeStatusResult {
  return {
    kind: "workload.oci_runtime_status",
    ok: true,
    runtime: {
      name: "podman",
      binary: "podman",
      present: true,
      answering: true,
      server_version: "4.3.1",
      rootless: false,
    },
    other_runtimes: [],
    gpus: {
      nvidia: { tool: "absent", gpus: [] },
      amd: { kfd: false, indices: [] },
      cdi: { specs: [], problems: [] },
    },
    gpu_paths: {
      nvidia: { ready: false, reason: "none" },
      amd: { ready: false, reason: "none" },
    },
    disk: [{ path: "/w", free_bytes: 1_000 }],
    managed_containers: 0,
    host_architecture: "amd64",
  };
}

/** An executor whose launch takes `launchMs` and echoes what it was given (the token included). */
function fakeExecutor(launchMs: number): OciExecutor & { launches: LaunchTaskInput[] } {
  const launches: LaunchTaskInput[] = [];
  return {
    launches,
    runtimeStatus: async () => status(),
    async launch(spec, task = {}) {
      launches.push(task);
      await new Promise((resolve) => setTimeout(resolve, launchMs));
      return {
        kind: "workload.oci_launch",
        ok: true,
        instance_id: spec.identity.instance_id,
        generation: 1,
        correlation_id: spec.identity.correlation_id,
        action: "created",
        runtime: { name: "podman", version: "4.3.1" },
        container_name: spec.container.name,
        image: spec.container.image,
        ports: [],
        steps: [],
        duration_ms: launchMs,
        // A careless handler leaking the token: the loop redacts it anyway.
        leaked: `pulled with ${task.credential?.token ?? ""}`,
      } as never;
    },
    control: async () => ({ ok: true }) as never,
    remove: async () => ({ ok: true }) as never,
    readLogs: async (name, tail) => ({
      ok: true,
      container_name: name,
      tail,
      text: "a\nb\n",
      truncated: false,
    }),
    rebuildState: async () => ({ containers: [], auth_dirs_removed: 0 }),
  };
}

function launchLease(taskId: string): Record<string, unknown> {
  return {
    task_id: taskId,
    kind: "workload.oci_launch",
    instance_id: "inst-1",
    correlation_id: "corr-1",
    attempt: 1,
    lease_expires_at: new Date(Date.now() + 3_000).toISOString(),
    spec: {
      kind: "workload.oci_launch",
      identity: { project_id: "p", instance_id: "inst-1", generation: 1, correlation_id: "corr-1" },
      gpu_mask: [0, 1],
      container: { name: "gpuaas-inst-1", image: "127.0.0.1:5055/a@sha256:00" },
    },
    pull_credential: {
      registry: "127.0.0.1:5055",
      username: "task-t1",
      password: PASSWORD,
      expires_at: "x",
    },
  };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("createAgentLoop", () => {
  const plane = new FakeControlPlane();
  let dir: string;
  before(async () => {
    await plane.start();
    dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-loop-"));
  });
  after(async () => {
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("registers, keeps the credential 0600, runs a leased launch with the credential and mask, extends and posts a redacted result", async () => {
    const executor = fakeExecutor(1_500);
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => executor,
      stateDir: join(dir, "state"),
      hostname: "host-1",
      bootstrapToken: BOOTSTRAP,
      leaseWaitMs: 50,
    });
    const started = await loop.start();
    assert.equal(started.node_id, "node-1");
    assert.equal(started.reused_credential, false);
    assert.equal(plane.of("/register")[0]?.body.bootstrap_token, BOOTSTRAP);
    assert.equal(plane.of("/inventory/containers").length, 1);
    const file = await stat(join(dir, "state", AGENT_STATE_FILE));
    assert.equal(file.mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "state"))).mode & 0o777, 0o700);

    plane.queue.push(launchLease("t1"));
    await until(() => plane.calls.some((call) => call.path === "/tasks/t1/result"));
    await loop.stop();
    assert.deepEqual(await loop.done, { reason: "stopped" });

    assert.deepEqual(executor.launches[0]?.gpuMask, [0, 1]);
    assert.equal(executor.launches[0]?.credential?.token, PASSWORD);
    assert.equal(executor.launches[0]?.credential?.username, "task-t1");
    assert.ok(plane.of("/tasks/t1/extend").length >= 1, "a 1.5 s task on a 3 s lease is extended");
    const posted = plane.of("/tasks/t1/result")[0]?.body;
    assert.equal(posted?.status, "succeeded");
    assert.ok(!JSON.stringify(plane.calls.map((call) => call.body)).includes(PASSWORD));
    assert.match(JSON.stringify(posted), /pulled with \[REDACTED\]/);
  });

  it("reuses the stored credential on restart without a bootstrap token", async () => {
    const before = plane.registrations;
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => fakeExecutor(0),
      stateDir: join(dir, "state"),
      hostname: "host-1",
      leaseWaitMs: 50,
    });
    const started = await loop.start();
    await loop.stop();
    assert.equal(started.reused_credential, true);
    assert.equal(plane.registrations, before);
  });

  it("registers again with a freshly minted token when the stored credential is refused", async () => {
    plane.credential = "gpuaas_node_rotated-elsewhere";
    let minted = 0;
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => fakeExecutor(0),
      stateDir: join(dir, "state"),
      hostname: "host-1",
      bootstrapToken: async () => {
        minted += 1;
        return BOOTSTRAP;
      },
      leaseWaitMs: 50,
    });
    const started = await loop.start();
    await loop.stop();
    assert.equal(started.reused_credential, false);
    assert.equal(minted, 1);
    assert.equal((await loadAgentState(join(dir, "state")))?.node_credential, plane.credential);
  });

  it("refuses to start without a usable credential or a bootstrap token", async () => {
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => fakeExecutor(0),
      stateDir: join(dir, "empty"),
      hostname: "host-1",
    });
    await assert.rejects(loop.start(), /no bootstrap token was given/);
  });

  it("abandons a task still running after the shutdown grace: no result is posted", async () => {
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => fakeExecutor(1_000),
      stateDir: join(dir, "state"),
      hostname: "host-1",
      leaseWaitMs: 50,
      shutdownGraceMs: 50,
    });
    await loop.start();
    plane.queue.push(launchLease("t2"));
    await until(() => loop.inflight() === 1);
    await loop.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal(plane.of("/tasks/t2/result").length, 0);
  });

  it("answers a task kind it does not run with task.kind_unsupported, and reads logs", async () => {
    const loop = createAgentLoop({
      client: createAgentClient({ serverUrl: plane.url }),
      executorFor: () => fakeExecutor(0),
      stateDir: join(dir, "state"),
      hostname: "host-1",
      leaseWaitMs: 50,
    });
    await loop.start();
    plane.queue.push({ ...launchLease("t3"), kind: "workload.compose_launch" });
    plane.queue.push({
      task_id: "t4",
      kind: "workload.oci_logs",
      instance_id: "inst-1",
      correlation_id: "corr-4",
      attempt: 1,
      lease_expires_at: new Date().toISOString(),
      spec: { kind: "workload.oci_logs", container_name: "gpuaas-inst-1", tail: 5 },
    });
    await until(
      () => plane.of("/tasks/t3/result").length + plane.of("/tasks/t4/result").length === 2,
    );
    await loop.stop();
    const unsupported = plane.of("/tasks/t3/result")[0]?.body;
    assert.equal(unsupported?.status, "failed");
    assert.equal(
      (unsupported?.result as { error?: { code: string } } | undefined)?.error?.code,
      "task.kind_unsupported",
    );
    const logs = plane.of("/tasks/t4/result")[0]?.body;
    assert.equal(logs?.status, "succeeded");
    assert.equal((logs?.result as { text?: string } | undefined)?.text, "a\nb\n");
  });
});
