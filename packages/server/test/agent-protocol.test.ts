// The node-agent protocol end to end through the in-process API, driven by a test agent that uses
// HTTP only: registration with a one-time bootstrap token, heartbeats, long-polled leases of
// launches queued through the real launch route, results reconciled into instance state, members
// and events (one correlation id), failures with their reason, lease expiry and redelivery, the
// separation of node credentials and user tokens, the lost-agent sweep and its recovery through a
// container report, control and remove results, and logs fetched through the agent.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createBootstrapToken,
  createNode,
  getInstance,
  getNode,
  getTask,
  listEvents,
  listInstanceMembers,
  type StoreEvent,
  setNodeState,
} from "../src/index.js";
import { sweepLostNodes } from "../src/reconcile/sweep-lost-nodes.js";
import { callApi, mintBootstrapToken, sampleInventory, TestAgent } from "./agent-fixtures.js";
import { type Harness, startHarness } from "./http-harness.js";
import {
  type LaunchWorld,
  launchBody,
  seedAllocation,
  seedLaunchWorld,
} from "./instance-fixtures.js";
import { BACKENDS } from "./store-backends.js";

const LEASE_MS = 30_000;
const OFFLINE_AFTER_MS = 30_000;

for (const backend of BACKENDS) {
  describe(`node agent protocol (${backend.name})`, () => {
    let h: Harness;
    let world: LaunchWorld;
    let agent: TestAgent;
    let dir: string;
    /** Added to the wall clock the app reads; tests move time forward with it. */
    let offset = 0;
    let port = 9100;
    const now = (): Date => new Date(Date.now() + offset);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-protocol-"));
      h = await startHarness({
        backend,
        now,
        config: {
          oci_node_tasks_enabled: true,
          agent_sweep_interval_ms: 0,
          agent_lease_ms: LEASE_MS,
          agent_offline_after_ms: OFFLINE_AFTER_MS,
          instance_logs_timeout_ms: 1_500,
          registry_token_key_file: join(dir, "key.pem"),
          registry_token_cert_file: join(dir, "cert.pem"),
        },
      });
      world = await seedLaunchWorld(h.store.db, h.projectId);
      const token = await mintBootstrapToken(h.app, h.auth("operator"), world.node.id);
      agent = await TestAgent.register(h.app, token, { hostname: "gpu-host-1" });
    });
    after(async () => {
      await h.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** Launches through the real route with a correlation id; returns the instance id. */
    async function launch(correlationId: string): Promise<string> {
      const allocation = await seedAllocation(h.store.db, {
        project_id: h.projectId,
        node_id: world.node.id,
      });
      port += 1;
      const response = await callApi(h.app, {
        method: "POST",
        url: `/api/v1/projects/${h.projectId}/app-instances`,
        headers: { ...h.auth("project_member"), "x-correlation-id": correlationId },
        body: launchBody(allocation.id, {
          config: {
            workspace_mount: "project_storage",
            exposure_mode: "private",
            host_port: port,
            python_packages: "numpy==2.4.4",
          },
        }),
      });
      assert.equal(response.status, 202, response.body);
      return response.json.id as string;
    }

    /** Leases at once and returns the lease of `instanceId`'s task. */
    // biome-ignore lint/suspicious/noExplicitAny: leases are read loosely
    async function leaseFor(instanceId: string, kind?: string): Promise<any> {
      const response = await agent.lease({ max: 16 });
      assert.equal(response.status, 200, response.body);
      const lease = response.json.leases.find(
        (item: { instance_id: string; kind: string }) =>
          item.instance_id === instanceId && (kind === undefined || item.kind === kind),
      );
      assert.ok(lease, `no lease for ${instanceId}: ${response.body}`);
      return lease;
    }

    async function eventsOf(instanceId: string): Promise<StoreEvent[]> {
      return [...(await listEvents(h.store.db, { instance_id: instanceId, limit: 200 })).items];
    }

    async function stateOf(instanceId: string): Promise<string | undefined> {
      return (await getInstance(h.store.db, instanceId))?.state;
    }

    it("registers a node with a one-time bootstrap token; the credential is shown once", async () => {
      const node = await getNode(h.store.db, agent.nodeId);
      assert.equal(node?.state, "online");
      assert.equal(node?.enrolled, true);
      assert.equal(node?.inventory.hostname, "gpu-host-1");
      assert.match(agent.credential, /^gpuaas_node_/);
      const shown = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/nodes/${agent.nodeId}`,
        headers: h.auth("operator"),
      });
      assert.equal(shown.status, 200);
      assert.ok(!shown.body.includes(agent.credential), "the credential is never shown again");

      // The bootstrap token works once.
      const other = await createNode(h.store.db, { name: "node-once" });
      const token = await mintBootstrapToken(h.app, h.auth("operator"), other.id);
      const first = await callApi(h.app, {
        method: "POST",
        url: "/api/v1/agent/register",
        body: { bootstrap_token: token, hostname: "once" },
      });
      assert.equal(first.status, 201, first.body);
      const again = await callApi(h.app, {
        method: "POST",
        url: "/api/v1/agent/register",
        body: { bootstrap_token: token, hostname: "once" },
      });
      assert.equal(again.status, 401);
      assert.equal(again.json.code, "agent.bootstrap_invalid");
      assert.match(again.json.message, /bootstrap-tokens/);
      const expired = await createBootstrapToken(h.store.db, {
        node_id: other.id,
        ttl_ms: 1,
        now: new Date(Date.now() - 60_000),
      });
      const late = await callApi(h.app, {
        method: "POST",
        url: "/api/v1/agent/register",
        body: { bootstrap_token: expired.plaintext, hostname: "once" },
      });
      assert.equal(late.status, 401);
    });

    it("records heartbeats with the inventory and answers the protocol's timing", async () => {
      const inventory = {
        ...sampleInventory(),
        gpus: [{ index: 0, uuid: "GPU-1", name: "H200", vendor: "nvidia", memory_mib: 141_312 }],
      };
      const response = await agent.heartbeat(inventory);
      assert.equal(response.status, 200, response.body);
      assert.equal(response.json.state, "online");
      assert.equal(response.json.lease_ms, LEASE_MS);
      assert.equal(response.json.heartbeat_interval_ms, OFFLINE_AFTER_MS / 3);
      const node = await getNode(h.store.db, agent.nodeId);
      assert.ok(node !== undefined);
      assert.equal((node.inventory.runtime as { name: string }).name, "podman");
      assert.equal((node.inventory.gpus as unknown[]).length, 1);
      assert.equal(node.inventory.hostname, "gpu-host-1", "the registered hostname is kept");
      assert.ok(node.last_heartbeat_at !== null);
      const bad = await agent.post("/heartbeat", { inventory: { gpus: "none" } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.code, "request.invalid");
    });

    it("leases a launch with a pull credential; success makes it running with members and one correlation id", async () => {
      const instanceId = await launch("corr-launch-ok");
      assert.equal(await stateOf(instanceId), "pending");
      const lease = await leaseFor(instanceId);
      assert.equal(lease.kind, "workload.oci_launch");
      assert.equal(lease.attempt, 1);
      assert.equal(lease.correlation_id, "corr-launch-ok");
      assert.ok(Date.parse(lease.lease_expires_at) > Date.now());
      assert.equal(lease.spec.container.digest.startsWith("sha256:"), true);
      const credential = lease.pull_credential;
      assert.equal(credential.registry, "127.0.0.1:5055");
      assert.equal(credential.username, `task-${lease.task_id}`);
      assert.match(credential.password, /^gpuaas_pull_[A-Za-z0-9_-]{43}$/);
      assert.equal(credential.expires_at, lease.lease_expires_at);
      assert.ok(
        !JSON.stringify(lease.spec).includes(credential.password),
        "the spec holds no secret",
      );
      assert.equal(await stateOf(instanceId), "deploying");

      const result = await agent.result(lease.task_id, "succeeded", {
        container_id: "c0ffee0123456789",
        container_name: `gpuaas-${instanceId}`,
        ports: [{ endpoint: "web", container_port: 8888, host_port: port }],
        runtime: { name: "podman", version: "4.3.1" },
        package_install: {
          packages: ["numpy==2.4.4"],
          exit_code: 0,
          excerpt: "Collecting numpy==2.4.4\nSuccessfully installed numpy-2.4.4",
        },
      });
      assert.equal(result.status, 200, result.body);
      assert.deepEqual(result.json.instance, { id: instanceId, state: "running" });
      assert.equal(result.json.duplicate, false);
      assert.equal(await stateOf(instanceId), "running");

      const members = await listInstanceMembers(h.store.db, instanceId);
      assert.equal(members.length, 1);
      assert.equal(members[0]?.container_id, "c0ffee0123456789");
      assert.equal(members[0]?.host_port, port);
      assert.equal(members[0]?.node_id, agent.nodeId);
      assert.equal(members[0]?.endpoint_url, `http://127.0.0.1:${port}/lab`);

      const events = await eventsOf(instanceId);
      assert.ok(events.length >= 5, events.map((event) => event.type).join(", "));
      assert.deepEqual(
        [...new Set(events.map((event) => event.correlation_id))],
        ["corr-launch-ok"],
        "every event of the launch carries its correlation id",
      );
      const types = events.map((event) => event.type);
      for (const type of [
        "instance.launch_requested",
        "instance.packages_installed",
        "instance.launched",
      ]) {
        assert.ok(types.includes(type), `${type} in ${types.join(", ")}`);
      }
      const transitions = events
        .filter((event) => event.type === "instance.state_changed")
        .map((event) => `${event.data.from}→${event.data.to}`);
      assert.deepEqual(transitions, ["pending→deploying", "deploying→running"]);
      const installed = events.find((event) => event.type === "instance.packages_installed");
      assert.match(String(installed?.data.excerpt), /Successfully installed numpy/);
      const launched = events.find((event) => event.type === "instance.launched");
      assert.equal(launched?.data.endpoint_url, `http://127.0.0.1:${port}/lab`);

      // The same result posted again (the agent lost the answer) is a duplicate, not an error.
      const repeat = await agent.result(lease.task_id, "succeeded", {});
      assert.equal(repeat.status, 200, repeat.body);
      assert.equal(repeat.json.duplicate, true);
      // A different outcome for a finished task is refused.
      const conflicting = await agent.result(lease.task_id, "failed", {});
      assert.equal(conflicting.status, 409);
      assert.equal(conflicting.json.code, "task.lease_not_held");
      assert.equal((await getTask(h.store.db, lease.task_id))?.state, "succeeded");
    });

    it("a failed launch makes the instance failed with the reason, exit code, OOM flag and log excerpt", async () => {
      const instanceId = await launch("corr-launch-fail");
      const lease = await leaseFor(instanceId);
      const result = await agent.result(lease.task_id, "failed", {
        error: {
          code: "readiness.timeout",
          message: "GET /lab on 127.0.0.1 did not answer 200 within 300 s",
          correlation_id: "corr-launch-fail",
        },
        exit_code: 137,
        oom_killed: true,
        log_excerpt: ["starting jupyter", "Killed"],
        package_install: { packages: ["numpy==2.4.4"], exit_code: 1, excerpt: "ERROR: no index" },
      });
      assert.equal(result.status, 200, result.body);
      assert.equal(result.json.instance.state, "failed");
      const events = await eventsOf(instanceId);
      const failed = events.find((event) => event.type === "instance.launch_failed");
      assert.ok(failed, events.map((event) => event.type).join(", "));
      assert.equal(failed.data.reason, "readiness.timeout");
      assert.equal(failed.data.exit_code, 137);
      assert.equal(failed.data.oom_killed, true);
      assert.deepEqual(failed.data.log_excerpt, ["starting jupyter", "Killed"]);
      assert.match(failed.message, /readiness\.timeout/);
      const changed = events.filter((event) => event.type === "instance.state_changed").at(-1);
      assert.equal(changed?.data.to, "failed");
      assert.equal(changed?.data.reason, "readiness.timeout");
      assert.ok(events.some((event) => event.type === "instance.packages_failed"));
      assert.ok(events.every((event) => event.correlation_id === "corr-launch-fail"));
    });

    it("hands an expired lease out again as attempt 2 with a fresh credential; extend keeps a lease", async () => {
      const instanceId = await launch("corr-redeliver");
      const first = await leaseFor(instanceId);
      assert.equal(first.attempt, 1);
      // Extending moves the lease (and the credential) forward.
      offset += 10_000;
      const extended = await agent.extend(first.task_id);
      assert.equal(extended.status, 200, extended.body);
      assert.ok(Date.parse(extended.json.lease_expires_at) > Date.parse(first.lease_expires_at));
      // Nothing is due while the lease holds.
      const idle = await agent.lease({ max: 16 });
      assert.ok(
        !idle.json.leases.some((item: { task_id: string }) => item.task_id === first.task_id),
      );
      offset += LEASE_MS + 1_000;
      const second = await leaseFor(instanceId);
      assert.equal(second.task_id, first.task_id);
      assert.equal(second.attempt, 2);
      assert.notEqual(second.pull_credential.password, first.pull_credential.password);
      const events = await eventsOf(instanceId);
      const redelivered = events.find((event) => event.type === "instance.task_redelivered");
      assert.equal(redelivered?.data.attempt, 2);
      assert.equal(redelivered?.correlation_id, "corr-redeliver");
      assert.equal(await stateOf(instanceId), "deploying");
      const done = await agent.result(second.task_id, "succeeded", {
        container_id: "abc",
        ports: [{ endpoint: "web", container_port: 8888, host_port: port }],
      });
      assert.equal(done.json.instance.state, "running");
      // Another node's agent cannot touch the task.
      const stranger = await createNode(h.store.db, { name: "node-stranger" });
      const strangerAgent = await TestAgent.register(
        h.app,
        await mintBootstrapToken(h.app, h.auth("operator"), stranger.id),
      );
      const foreign = await strangerAgent.result(second.task_id, "failed", {});
      assert.equal(foreign.status, 404);
      const foreignExtend = await strangerAgent.extend(second.task_id);
      assert.equal(foreignExtend.status, 404);
    });

    it("long-polls: waits for work up to wait_ms and returns a launch queued meanwhile", async () => {
      const started = Date.now();
      const empty = await agent.lease({ wait_ms: 600 });
      const waited = Date.now() - started;
      assert.deepEqual(empty.json.leases, []);
      assert.ok(waited >= 550 && waited < 3_000, `waited ${waited} ms`);

      const polling = agent.lease({ wait_ms: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const instanceId = await launch("corr-long-poll");
      const launchedAt = Date.now();
      const response = await polling;
      const latency = Date.now() - launchedAt;
      assert.equal(response.json.leases.length, 1, response.body);
      assert.equal(response.json.leases[0].instance_id, instanceId);
      assert.ok(latency < 2_000, `the poll returned ${latency} ms after the launch`);
      const refused = await agent.lease({ wait_ms: 25_001 });
      assert.equal(refused.status, 400);
      await agent.result(response.json.leases[0].task_id, "succeeded", { container_id: "lp" });
    });

    it("keeps node credentials and user tokens apart", async () => {
      const asNode = { authorization: `Bearer ${agent.credential}` };
      for (const url of [
        "/api/v1/me",
        "/api/v1/apps/catalog",
        `/api/v1/projects/${h.projectId}/app-instances`,
        "/api/v1/nodes",
      ]) {
        const response = await callApi(h.app, { method: "GET", url, headers: asNode });
        assert.equal(response.status, 403, `${url}: ${response.body}`);
        assert.equal(response.json.code, "auth.forbidden");
        assert.match(response.json.message, /agent routes/);
      }
      for (const role of ["operator", "project_member", "service_account_member"] as const) {
        const response = await callApi(h.app, {
          method: "POST",
          url: "/api/v1/agent/leases",
          headers: h.auth(role),
          body: {},
        });
        assert.equal(response.status, 403, `${role}: ${response.body}`);
        assert.equal(response.json.code, "auth.forbidden");
      }
      const anonymous = await callApi(h.app, {
        method: "POST",
        url: "/api/v1/agent/heartbeat",
        body: { inventory: {} },
      });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.json.code, "auth.missing_token");
      const forged = await callApi(h.app, {
        method: "POST",
        url: "/api/v1/agent/heartbeat",
        headers: { authorization: `Bearer gpuaas_node_${"A".repeat(43)}` },
        body: { inventory: {} },
      });
      assert.equal(forged.status, 401);
      assert.equal(forged.json.code, "auth.invalid_token");
      // Registering again replaces the credential; the old one stops working.
      const other = await createNode(h.store.db, { name: "node-rotate" });
      const one = await TestAgent.register(
        h.app,
        await mintBootstrapToken(h.app, h.auth("operator"), other.id),
      );
      const two = await TestAgent.register(
        h.app,
        await mintBootstrapToken(h.app, h.auth("operator"), other.id),
      );
      assert.equal((await one.heartbeat()).status, 401);
      assert.equal((await two.heartbeat()).status, 200);
    });

    it("reconciles stop, start, restart and decommission results", async () => {
      const instanceId = await launch("corr-lifecycle");
      const launchLease = await leaseFor(instanceId);
      await agent.result(launchLease.task_id, "succeeded", {
        container_id: "life1",
        ports: [{ endpoint: "web", container_port: 8888, host_port: port }],
      });
      const act = async (path: string, body?: unknown) => {
        const response = await callApi(h.app, {
          method: "POST",
          url: `/api/v1/projects/${h.projectId}/app-instances/${instanceId}/${path}`,
          headers: { ...h.auth("project_member"), "x-correlation-id": `corr-${path}` },
          ...(body !== undefined ? { body } : {}),
        });
        assert.equal(response.status, 202, response.body);
      };
      for (const [action, pending, settled] of [
        ["stop", "stopping", "stopped"],
        ["start", "starting", "running"],
        ["restart", "restarting", "running"],
      ] as const) {
        await act("actions", { action });
        assert.equal(await stateOf(instanceId), pending);
        const lease = await leaseFor(instanceId, "workload.oci_control");
        assert.equal(lease.spec.action, action);
        assert.equal(lease.pull_credential, undefined, "only launches carry a pull credential");
        const done = await agent.result(lease.task_id, "succeeded", { container_id: "life1" });
        assert.equal(done.json.instance.state, settled, `${action}: ${done.body}`);
      }
      await act("decommission");
      const remove = await leaseFor(instanceId, "workload.oci_remove");
      const removed = await agent.result(remove.task_id, "succeeded", { removed: true });
      assert.equal(removed.json.instance.state, "decommissioned");
      assert.deepEqual(await listInstanceMembers(h.store.db, instanceId), []);
      const events = await eventsOf(instanceId);
      const types = events.map((event) => event.type);
      for (const type of [
        "instance.stop_succeeded",
        "instance.start_succeeded",
        "instance.restart_succeeded",
        "instance.removed",
      ]) {
        assert.ok(types.includes(type), `${type} in ${types.join(", ")}`);
      }
      const removedEvent = events.find((event) => event.type === "instance.removed");
      assert.equal(removedEvent?.correlation_id, "corr-decommission");
    });

    it("a result for an older generation changes nothing", async () => {
      const instanceId = await launch("corr-superseded");
      const lease = await leaseFor(instanceId);
      // The user stops it while the launch is still running on the node.
      const stop = await callApi(h.app, {
        method: "POST",
        url: `/api/v1/projects/${h.projectId}/app-instances/${instanceId}/actions`,
        headers: h.auth("project_member"),
        body: { action: "stop" },
      });
      assert.equal(stop.status, 202, stop.body);
      const late = await agent.result(lease.task_id, "succeeded", { container_id: "late" });
      assert.equal(late.json.instance.state, "stopping");
      const events = await eventsOf(instanceId);
      assert.ok(events.some((event) => event.type === "instance.task_result_superseded"));
      const control = await leaseFor(instanceId, "workload.oci_control");
      const stopped = await agent.result(control.task_id, "succeeded", {});
      assert.equal(stopped.json.instance.state, "stopped");
    });

    it("fetches logs through the agent, redacted; times out with 504 instance.logs_timeout", async () => {
      const instanceId = await launch("corr-logs");
      const launchLease = await leaseFor(instanceId);
      await agent.result(launchLease.task_id, "succeeded", { container_id: "logs1" });
      const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0YXNrIn0.c2lnbmF0dXJl";
      const serve = (async () => {
        for (let round = 0; round < 40; round += 1) {
          const response = await agent.lease({ max: 4, wait_ms: 250 });
          const lease = response.json.leases.find(
            (item: { kind: string }) => item.kind === "workload.oci_logs",
          );
          if (lease === undefined) continue;
          assert.equal(lease.spec.tail, 3);
          assert.equal(lease.spec.container_name, `gpuaas-${instanceId}`);
          await agent.result(lease.task_id, "succeeded", {
            lines: [
              "first line",
              `token=${jwt}`,
              "pulled with gpuaas_pull_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
              "[I 12:00:00 ServerApp] Jupyter Server is running",
            ],
          });
          return lease.task_id as string;
        }
        throw new Error("no logs task leased");
      })();
      const response = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/app-instances/${instanceId}/logs?tail=3`,
        headers: h.auth("project_viewer"),
      });
      const taskId = await serve;
      assert.equal(response.status, 200, response.body);
      assert.equal(response.json.lines.length, 3);
      assert.ok(!response.body.includes(jwt));
      assert.ok(!response.body.includes("gpuaas_pull_AAAA"));
      assert.match(response.json.lines[0], /token=\[REDACTED\]/);
      assert.match(response.json.lines[2], /Jupyter Server is running/);
      const stored = await getTask(h.store.db, taskId);
      assert.deepEqual(Object.keys(stored?.result as object).sort(), [
        "delivered_at",
        "line_count",
      ]);

      // Nobody answers: 504 with a clear message, and the queued task is withdrawn.
      const timedOut = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/app-instances/${instanceId}/logs`,
        headers: h.auth("project_viewer"),
      });
      assert.equal(timedOut.status, 504, timedOut.body);
      assert.equal(timedOut.json.code, "instance.logs_timeout");
      assert.match(timedOut.json.message, /did not send the logs within 1\.5 s/);
      assert.equal(await getTask(h.store.db, timedOut.json.details.task_id), undefined);
      const idle = await agent.lease({ max: 16 });
      assert.deepEqual(idle.json.leases, []);
    });

    it("lost agent: the sweep marks the node offline and its instances unknown; a heartbeat and a container report reconcile them", async () => {
      const running = await launch("corr-lost-running");
      const stopped = await launch("corr-lost-stopped");
      const leased = await agent.lease({ max: 16 });
      for (const id of [running, stopped]) {
        const lease = leased.json.leases.find(
          (item: { instance_id: string }) => item.instance_id === id,
        );
        await agent.result(lease.task_id, "succeeded", {
          container_id: `ctr-${id.slice(0, 8)}`,
          ports: [{ endpoint: "web", container_port: 8888, host_port: port }],
        });
      }
      assert.equal(await stateOf(running), "running");
      // Nothing is lost while heartbeats are fresh.
      await agent.heartbeat();
      const quiet = await sweepLostNodes(h.store.db, {
        now: now(),
        offline_after_ms: OFFLINE_AFTER_MS,
      });
      assert.ok(!quiet.nodes.includes(agent.nodeId));

      offset += OFFLINE_AFTER_MS + 5_000;
      const report = await sweepLostNodes(h.store.db, {
        now: now(),
        offline_after_ms: OFFLINE_AFTER_MS,
      });
      assert.ok(report.nodes.includes(agent.nodeId));
      assert.equal((await getNode(h.store.db, agent.nodeId))?.state, "offline");
      for (const id of [running, stopped]) {
        assert.equal(await stateOf(id), "unknown");
        const lost = (await eventsOf(id)).filter(
          (event) => event.correlation_id === report.correlation_id,
        );
        assert.equal(lost[0]?.data.reason, "node_lost");
        assert.match(lost[0]?.message ?? "", /no heartbeat/);
      }
      // A second sweep finds nothing new.
      const again = await sweepLostNodes(h.store.db, {
        now: now(),
        offline_after_ms: OFFLINE_AFTER_MS,
      });
      assert.deepEqual(again.nodes, []);

      // Logs are refused at once while the node is offline.
      const logs = await callApi(h.app, {
        method: "GET",
        url: `/api/v1/projects/${h.projectId}/app-instances/${running}/logs`,
        headers: h.auth("project_viewer"),
      });
      assert.equal(logs.status, 409);
      assert.equal(logs.json.code, "instance.logs_unavailable");

      const back = await agent.heartbeat();
      assert.equal(back.json.state, "online");
      const reconciled = await agent.reportContainers([
        {
          name: `gpuaas-${running}`,
          container_id: `ctr-${running.slice(0, 8)}`,
          state: "running",
          labels: { "dev.gpuaas.managed": "true", "dev.gpuaas.instance": running },
        },
        {
          name: `gpuaas-${stopped}`,
          container_id: `ctr-${stopped.slice(0, 8)}`,
          state: "exited",
          labels: { "dev.gpuaas.managed": "true", "dev.gpuaas.instance": stopped },
        },
        {
          name: "gpuaas-00000000-0000-4000-8000-000000000000",
          state: "running",
          labels: {
            "dev.gpuaas.managed": "true",
            "dev.gpuaas.instance": "00000000-0000-4000-8000-000000000000",
          },
        },
      ]);
      assert.equal(reconciled.status, 200, reconciled.body);
      assert.deepEqual(
        reconciled.json.reconciled
          .filter((item: { instance_id: string }) => [running, stopped].includes(item.instance_id))
          .sort((a: { to: string }, b: { to: string }) => a.to.localeCompare(b.to)),
        [
          { instance_id: running, from: "unknown", to: "running" },
          { instance_id: stopped, from: "unknown", to: "stopped" },
        ],
      );
      // The earlier tests' running instances have no container in the report: they failed.
      for (const item of reconciled.json.reconciled) {
        if (item.instance_id === running || item.instance_id === stopped) continue;
        assert.equal(item.to, "failed");
        const missing = (await eventsOf(item.instance_id)).find(
          (event) => event.type === "instance.reconciled",
        );
        assert.equal(missing?.data.reason, "container_missing");
      }
      assert.deepEqual(reconciled.json.orphans, ["gpuaas-00000000-0000-4000-8000-000000000000"]);
      assert.equal(await stateOf(running), "running");
      assert.equal(await stateOf(stopped), "stopped");
      const members = await listInstanceMembers(h.store.db, running);
      assert.equal(members[0]?.endpoint_url, `http://127.0.0.1:${members[0]?.host_port}/lab`);
    });

    it("lost agent on a draining node: the node stays draining, its instances go unknown and reconcile when it returns", async () => {
      const instanceId = await launch("corr-lost-draining");
      const lease = await leaseFor(instanceId);
      await agent.result(lease.task_id, "succeeded", {
        container_id: `ctr-${instanceId.slice(0, 8)}`,
        ports: [{ endpoint: "web", container_port: 8888, host_port: port }],
      });
      assert.equal(await stateOf(instanceId), "running");
      await agent.heartbeat();
      await setNodeState(h.store.db, { id: agent.nodeId, to: "draining" });
      try {
        offset += OFFLINE_AFTER_MS + 5_000;
        const report = await sweepLostNodes(h.store.db, {
          now: now(),
          offline_after_ms: OFFLINE_AFTER_MS,
        });
        assert.ok(!report.nodes.includes(agent.nodeId));
        assert.ok(report.draining.includes(agent.nodeId));
        assert.equal((await getNode(h.store.db, agent.nodeId))?.state, "draining");
        assert.equal(await stateOf(instanceId), "unknown");
        const lost = (await eventsOf(instanceId)).find(
          (event) => event.correlation_id === report.correlation_id,
        );
        assert.equal(lost?.data.reason, "node_lost");
        // Nothing left to lose: the next sweep reports nothing for the node.
        const again = await sweepLostNodes(h.store.db, {
          now: now(),
          offline_after_ms: OFFLINE_AFTER_MS,
        });
        assert.ok(!again.draining.includes(agent.nodeId));

        const back = await agent.heartbeat();
        assert.equal(back.json.state, "draining");
        const reconciled = await agent.reportContainers([
          {
            name: `gpuaas-${instanceId}`,
            container_id: `ctr-${instanceId.slice(0, 8)}`,
            state: "running",
            labels: { "dev.gpuaas.managed": "true", "dev.gpuaas.instance": instanceId },
          },
        ]);
        assert.equal(reconciled.status, 200, reconciled.body);
        assert.equal(await stateOf(instanceId), "running");
      } finally {
        await setNodeState(h.store.db, { id: agent.nodeId, to: "online" });
      }
    });

    it("an instance whose launch was in flight stays unknown until the redelivered launch reports", async () => {
      const instanceId = await launch("corr-lost-deploying");
      const first = await leaseFor(instanceId);
      assert.equal(await stateOf(instanceId), "deploying");
      await agent.heartbeat();
      offset += OFFLINE_AFTER_MS + LEASE_MS + 5_000;
      await sweepLostNodes(h.store.db, { now: now(), offline_after_ms: OFFLINE_AFTER_MS });
      assert.equal(await stateOf(instanceId), "unknown");
      await agent.heartbeat();
      const report = await agent.reportContainers([]);
      assert.deepEqual(report.json.skipped, [{ instance_id: instanceId, reason: "task_pending" }]);
      const second = await leaseFor(instanceId);
      assert.equal(second.task_id, first.task_id);
      assert.equal(second.attempt, 2);
      const done = await agent.result(second.task_id, "succeeded", { container_id: "redo" });
      assert.equal(done.json.instance.state, "running");
    });
  });
}

describe("the lost-agent sweep timer", () => {
  it("runs on its interval from the app's start and stops when the app closes", async () => {
    let offset = 0;
    const h = await startHarness({
      now: () => new Date(Date.now() + offset),
      config: { agent_sweep_interval_ms: 50, agent_offline_after_ms: 1_000 },
    });
    try {
      const node = await createNode(h.store.db, { name: "timer-node" });
      const token = await mintBootstrapToken(h.app, h.auth("operator"), node.id);
      await TestAgent.register(h.app, token);
      offset += 5_000;
      const deadline = Date.now() + 3_000;
      while ((await getNode(h.store.db, node.id))?.state !== "offline") {
        assert.ok(Date.now() < deadline, "the sweep did not run");
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(h.logs.some((line) => line.includes("node agents lost")));
    } finally {
      await h.close();
    }
  });

  it("wakes a waiting lease poll when the app closes", async () => {
    const h = await startHarness({ config: { agent_sweep_interval_ms: 0 } });
    const node = await createNode(h.store.db, { name: "closing-node" });
    const agent = await TestAgent.register(
      h.app,
      await mintBootstrapToken(h.app, h.auth("operator"), node.id),
    );
    const polling = agent.lease({ wait_ms: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await h.close();
    const response = await polling;
    assert.ok(Date.now() - started < 3_000, "the poll ended with the app");
    assert.deepEqual(response.json?.leases ?? [], []);
  });
});
