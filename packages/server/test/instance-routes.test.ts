// The app-instance API end to end through the in-process app: every preflight check refused on
// its own with its code, accepted launches and what they write, idempotent retries, GPU claims,
// the lifecycle actions, upgrade and rollback, and a property test throwing junk at the launch.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  createNode,
  getInstance,
  listAudit,
  listEvents,
  listTasks,
  setEntitlement,
  transitionAllocation,
  transitionInstance,
} from "../src/index.js";
import { type Harness, startHarness } from "./http-harness.js";
import {
  countLaunchRows,
  type LaunchWorld,
  launchBody,
  seedAllocation,
  seedArtifact,
  seedLaunchableVersion,
  seedLaunchWorld,
  seedVersion,
} from "./instance-fixtures.js";
import { BACKENDS } from "./store-backends.js";

for (const backend of BACKENDS) {
  describe(`app instances (${backend.name})`, () => {
    let h: Harness;
    let world: LaunchWorld;
    let base: string;

    before(async () => {
      h = await startHarness({ backend, config: { oci_node_tasks_enabled: true } });
      world = await seedLaunchWorld(h.store.db, h.projectId);
      base = `/api/v1/projects/${h.projectId}/app-instances`;
    });
    after(async () => h.close());

    function launch(body: unknown, headers: Record<string, string> = {}) {
      return h.app.inject({
        method: "POST",
        url: base,
        headers: { ...h.auth("project_member"), ...headers },
        payload: body as Record<string, unknown>,
      });
    }

    /** Launches, expecting a refusal with `code`, and checks that nothing was written. */
    async function assertRefused(body: unknown, status: number, code: string) {
      const before = await countLaunchRows(h.store.db);
      const response = await launch(body);
      assert.equal(response.statusCode, status, response.body);
      const error = response.json();
      assert.equal(error.code, code, error.message);
      assert.ok(error.message.length > 20);
      assert.deepEqual(await countLaunchRows(h.store.db), before, "a refusal wrote nothing");
      return error;
    }

    /** A fresh allocation of this project on the world's node. */
    function allocation(
      overrides: Parameters<typeof seedAllocation>[1] extends infer T ? Partial<T> : never = {},
    ) {
      return seedAllocation(h.store.db, {
        project_id: h.projectId,
        node_id: world.node.id,
        ...overrides,
      });
    }

    it("accepts a launch: instance, task and event in one correlation, and an audit entry", async () => {
      const alloc = await allocation();
      const response = await launch(
        launchBody(alloc.id, { resource_overrides: { gpu_count: 1 } }),
        {
          "x-correlation-id": "launch-ok-1",
        },
      );
      assert.equal(response.statusCode, 202, response.body);
      const instance = response.json();
      assert.equal(instance.correlation_id, "launch-ok-1");
      assert.equal(instance.desired_state, "running");
      assert.equal(instance.state, "pending");
      assert.equal(instance.generation, 1);
      assert.deepEqual(instance.gpu_indices, [0]);
      assert.match(instance.resolved_digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(instance.resolved_values.config.workspace_mount, "project_storage");
      assert.equal(response.headers.location, `${base}/${instance.id}`);
      const tasks = await listTasks(h.store.db, { instance_id: instance.id });
      assert.equal(tasks.length, 1);
      const task = tasks[0];
      assert.ok(task);
      assert.equal(task.kind, "workload.oci_launch");
      assert.equal(task.node_id, world.node.id);
      assert.equal(task.correlation_id, "launch-ok-1");
      const container = task.spec.container as { image: string; gpus: { indices: number[] } };
      assert.equal(container.image.endsWith(`@${instance.resolved_digest}`), true);
      assert.deepEqual(container.gpus.indices, [0]);
      const events = await listEvents(h.store.db, { instance_id: instance.id });
      assert.deepEqual(
        events.items.map((event) => [event.type, event.correlation_id]),
        [["instance.launch_requested", "launch-ok-1"]],
      );
      const audit = await listAudit(h.store.db, { project_id: h.projectId });
      const entry = audit.items.find((item) => item.target === `instance:${instance.id}`);
      assert.ok(entry);
      assert.equal(entry.action, "instance.launch");
      assert.equal(entry.correlation_id, "launch-ok-1");
      assert.match(entry.actor, /^user:/);
    });

    it("refuses a body the contract rejects with launch.invalid and every issue", async () => {
      const error = await assertRefused(
        launchBody(world.allocation.id, {
          extra: 1,
          config: { workspace_mount: "nfs", exposure_mode: "private" },
          resource_overrides: { gpu_count: -1 },
        }),
        422,
        "launch.invalid",
      );
      const pointers = error.issues.map((issue: { pointer: string }) => issue.pointer);
      assert.ok(pointers.includes("/extra"));
      assert.ok(pointers.includes("/config/workspace_mount"));
      assert.ok(pointers.includes("/resource_overrides/gpu_count"));
      await assertRefused([1, 2], 422, "launch.invalid");
      await assertRefused({ app_slug: 7 }, 422, "launch.invalid");
      await assertRefused(
        launchBody(world.allocation.id, { app_version: "9.9.9" }),
        404,
        "resource.not_found",
      );
    });

    it("1 refuses an allocation that is not active", async () => {
      const alloc = await allocation();
      await transitionAllocation(h.store.db, { id: alloc.id, to: "releasing" });
      const error = await assertRefused(launchBody(alloc.id), 422, "launch.allocation_not_active");
      assert.equal(error.details.check_number, 1);
    });

    it("2 refuses another project's allocation, and a nonexistent one with 404", async () => {
      const theirs = await seedAllocation(h.store.db, {
        project_id: h.otherProjectId,
        node_id: world.node.id,
      });
      await assertRefused(launchBody(theirs.id), 403, "launch.allocation_other_project");
      await assertRefused(launchBody("no-such-allocation"), 404, "resource.not_found");
    });

    it("3 refuses an app the project is not entitled to, and an unpublished version", async () => {
      await setEntitlement(h.store.db, {
        project_id: h.projectId,
        app_slug: "jupyterlab",
        enabled: false,
      });
      try {
        await assertRefused(launchBody(world.allocation.id), 403, "launch.app_not_entitled");
      } finally {
        await setEntitlement(h.store.db, {
          project_id: h.projectId,
          app_slug: "jupyterlab",
          enabled: true,
        });
      }
      const draft = await seedVersion(h.store.db, "2026.04-draft", false);
      await seedArtifact(h.store.db, draft);
      await assertRefused(
        launchBody(world.allocation.id, { app_version: draft.version }),
        422,
        "launch.app_not_published",
      );
    });

    it("4 refuses when no artifact is promoted or published, or the named one is retired", async () => {
      const bare = await seedVersion(h.store.db, "2026.04-bare");
      await seedArtifact(h.store.db, bare, { gpu: false, state: "verified" });
      const retired = await seedArtifact(h.store.db, bare, { gpu: false, state: "retired" });
      await assertRefused(
        launchBody(world.allocation.id, { app_version: bare.version }),
        422,
        "launch.artifact_not_promoted",
      );
      await assertRefused(
        launchBody(world.allocation.id, { app_version: bare.version, artifact_id: retired.id }),
        422,
        "launch.artifact_not_promoted",
      );
      await assertRefused(
        launchBody(world.allocation.id, { artifact_id: retired.id }),
        422,
        "launch.artifact_not_found",
      );
    });

    it("5 refuses an artifact outside the platform registry", async () => {
      const foreign = await seedVersion(h.store.db, "2026.04-foreign");
      await seedArtifact(h.store.db, foreign, {
        gpu: false,
        repository: "docker.io/jupyter/base-notebook",
      });
      await assertRefused(
        launchBody(world.allocation.id, { app_version: foreign.version }),
        422,
        "launch.digest_untrusted",
      );
    });

    it("6 refuses a storage mode the allocation does not offer", async () => {
      const scratchOnly = await allocation({ storage_modes: ["scratch"] });
      const error = await assertRefused(
        launchBody(scratchOnly.id),
        422,
        "launch.storage_mode_not_allowed",
      );
      assert.match(error.message, /choose scratch/);
    });

    it("7 refuses managed ingress the environment does not offer", async () => {
      const body = launchBody(world.allocation.id, {
        config: { workspace_mount: "scratch", exposure_mode: "managed_ingress" },
      });
      await assertRefused(body, 422, "launch.exposure_not_supported");
    });

    it("8 refuses a shape larger than the allocation", async () => {
      await assertRefused(
        launchBody(world.allocation.id, {
          resource_overrides: { gpu_count: 0, cpu_cores: 64, memory_gib: 4 },
        }),
        422,
        "launch.shape_exceeds_allocation",
      );
    });

    it("8 claims the lowest free GPUs and refuses a launch when too few are free", async () => {
      const pair = await allocation({ gpu_indices: [4, 5] });
      const first = await launch(launchBody(pair.id, { resource_overrides: { gpu_count: 1 } }));
      assert.equal(first.statusCode, 202, first.body);
      assert.deepEqual(first.json().gpu_indices, [4]);
      await assertRefused(
        launchBody(pair.id, { resource_overrides: { gpu_count: 2 } }),
        409,
        "launch.gpus_claimed",
      );
      const second = await launch(launchBody(pair.id, { resource_overrides: { gpu_count: 1 } }));
      assert.equal(second.statusCode, 202, second.body);
      assert.deepEqual(second.json().gpu_indices, [5]);
      await assertRefused(
        launchBody(pair.id, { resource_overrides: { gpu_count: 1 } }),
        409,
        "launch.gpus_claimed",
      );
      // A failed instance gives its GPU back.
      await transitionInstance(h.store.db, {
        id: first.json().id,
        to: "failed",
        correlation_id: "test",
      });
      const third = await launch(launchBody(pair.id, { resource_overrides: { gpu_count: 1 } }));
      assert.equal(third.statusCode, 202, third.body);
      assert.deepEqual(third.json().gpu_indices, [4]);
    });

    it("returns the first response to a retry with the same Idempotency-Key", async () => {
      const alloc = await allocation();
      const body = launchBody(alloc.id);
      const key = { "idempotency-key": `launch-${alloc.id}` };
      const first = await launch(body, key);
      assert.equal(first.statusCode, 202, first.body);
      const counts = await countLaunchRows(h.store.db);
      const retry = await launch(body, key);
      assert.equal(retry.statusCode, 202);
      assert.equal(retry.headers["idempotent-replayed"], "true");
      assert.deepEqual(retry.json(), first.json());
      assert.deepEqual(await countLaunchRows(h.store.db), counts);
      const reused = await launch({ ...body, display_name: "Another" }, key);
      assert.equal(reused.statusCode, 422);
      assert.equal(reused.json().code, "idempotency.key_reused");
      const bad = await launch(body, { "idempotency-key": "has space" });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, "request.invalid");
    });

    it("lists, gets and pages instances and events; another project sees 404", async () => {
      const alloc = await allocation();
      const launched = await launch(launchBody(alloc.id));
      const id = launched.json().id as string;
      const member = h.auth("project_viewer");
      const list = await h.app.inject({ method: "GET", url: `${base}?limit=1`, headers: member });
      assert.equal(list.statusCode, 200);
      assert.equal(list.json().items.length, 1);
      assert.ok(list.json().next_cursor);
      const next = await h.app.inject({
        method: "GET",
        url: `${base}?limit=1&after=${list.json().next_cursor}`,
        headers: member,
      });
      assert.equal(next.statusCode, 200);
      assert.notEqual(next.json().items[0].id, list.json().items[0].id);
      const got = await h.app.inject({ method: "GET", url: `${base}/${id}`, headers: member });
      assert.equal(got.json().id, id);
      const members = await h.app.inject({
        method: "GET",
        url: `${base}/${id}/members`,
        headers: member,
      });
      assert.deepEqual(members.json().items, []);
      const events = await h.app.inject({
        method: "GET",
        url: `${base}/${id}/events?limit=10`,
        headers: member,
      });
      assert.equal(events.json().items[0].type, "instance.launch_requested");
      const badCursor = await h.app.inject({
        method: "GET",
        url: `${base}?after=nope`,
        headers: member,
      });
      assert.equal(badCursor.statusCode, 400);
      const theirs = await h.app.inject({
        method: "GET",
        url: `/api/v1/projects/${h.otherProjectId}/app-instances/${id}`,
        headers: h.auth("other_project_member"),
      });
      assert.equal(theirs.statusCode, 404);
      assert.equal(theirs.json().code, "resource.not_found");
      const stop = await h.app.inject({
        method: "POST",
        url: `/api/v1/projects/${h.otherProjectId}/app-instances/${id}/actions`,
        headers: h.auth("other_project_member"),
        payload: { action: "stop" },
      });
      assert.equal(stop.statusCode, 404);
      const viewerLaunch = await h.app.inject({
        method: "POST",
        url: base,
        headers: h.auth("project_viewer"),
        payload: launchBody(alloc.id),
      });
      assert.equal(viewerLaunch.statusCode, 403);
    });

    it("drives the lifecycle with actions and refuses illegal ones with 409", async () => {
      const alloc = await allocation();
      const launched = await launch(launchBody(alloc.id), { "x-correlation-id": "life-1" });
      const id = launched.json().id as string;
      const act = (action: string, correlation: string) =>
        h.app.inject({
          method: "POST",
          url: `${base}/${id}/actions`,
          headers: { ...h.auth("project_member"), "x-correlation-id": correlation },
          payload: { action },
        });
      const early = await act("stop", "life-2");
      assert.equal(early.statusCode, 409);
      assert.equal(early.json().code, "instance.illegal_transition");
      assert.match(early.json().message, /pending/);
      const unknown = await act("explode", "life-2b");
      assert.equal(unknown.statusCode, 400);
      for (const to of ["deploying", "running"] as const) {
        await transitionInstance(h.store.db, { id, to, correlation_id: "agent" });
      }
      const stop = await act("stop", "life-3");
      assert.equal(stop.statusCode, 202, stop.body);
      assert.equal(stop.json().state, "stopping");
      assert.equal(stop.json().desired_state, "stopped");
      const tasks = await listTasks(h.store.db, { instance_id: id });
      const control = tasks.at(-1);
      assert.equal(control?.kind, "workload.oci_control");
      assert.equal(control?.correlation_id, "life-3");
      assert.equal(control?.spec.action, "stop");
      assert.equal((await act("stop", "life-4")).statusCode, 409);
      await transitionInstance(h.store.db, { id, to: "stopped", correlation_id: "agent" });
      assert.equal((await act("restart", "life-5")).statusCode, 409);
      const start = await act("start", "life-6");
      assert.equal(start.json().state, "starting");
      await transitionInstance(h.store.db, { id, to: "running", correlation_id: "agent" });
      const restart = await act("restart", "life-7");
      assert.equal(restart.json().state, "restarting");
      await transitionInstance(h.store.db, { id, to: "running", correlation_id: "agent" });
      const remove = await h.app.inject({
        method: "DELETE",
        url: `${base}/${id}`,
        headers: h.auth("project_member"),
      });
      assert.equal(remove.statusCode, 409);
      assert.equal(remove.json().code, "instance.not_removable");
      assert.match(remove.json().message, /decommission/);
      const decommission = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/decommission`,
        headers: { ...h.auth("project_member"), "x-correlation-id": "life-8" },
      });
      assert.equal(decommission.statusCode, 202, decommission.body);
      assert.equal(decommission.json().state, "decommissioning");
      assert.equal(
        (await listTasks(h.store.db, { instance_id: id })).at(-1)?.kind,
        "workload.oci_remove",
      );
      await transitionInstance(h.store.db, { id, to: "decommissioned", correlation_id: "agent" });
      const events = await listEvents(h.store.db, { instance_id: id });
      const mine = events.items.filter((event) => event.correlation_id.startsWith("life-"));
      assert.deepEqual(
        [...new Set(mine.map((event) => event.correlation_id))],
        ["life-1", "life-3", "life-6", "life-7", "life-8"],
      );
      assert.ok(mine.some((event) => event.type === "instance.stop_requested"));
      const audit = await listAudit(h.store.db, { project_id: h.projectId });
      const actions = audit.items
        .filter((entry) => entry.target === `instance:${id}`)
        .map((entry) => entry.action);
      assert.deepEqual(actions, [
        "instance.launch",
        "instance.stop",
        "instance.start",
        "instance.restart",
        "instance.decommission",
      ]);
      const deleted = await h.app.inject({
        method: "DELETE",
        url: `${base}/${id}`,
        headers: h.auth("project_member"),
      });
      assert.equal(deleted.statusCode, 204);
      assert.equal(await getInstance(h.store.db, id), undefined);
    });

    it("deletes an instance that was never deployed, withdrawing its queued launch", async () => {
      const alloc = await allocation();
      const id = (await launch(launchBody(alloc.id))).json().id as string;
      const deleted = await h.app.inject({
        method: "DELETE",
        url: `${base}/${id}`,
        headers: h.auth("project_member"),
      });
      assert.equal(deleted.statusCode, 204);
      assert.deepEqual(await listTasks(h.store.db, { instance_id: id }), []);
      const again = await h.app.inject({
        method: "DELETE",
        url: `${base}/${id}`,
        headers: h.auth("project_member"),
      });
      assert.equal(again.statusCode, 404);
    });

    it("upgrades to another version and rolls back, each a new generation with a launch task", async () => {
      const alloc = await allocation();
      const launched = await launch(launchBody(alloc.id, { resource_overrides: { gpu_count: 1 } }));
      const id = launched.json().id as string;
      for (const to of ["deploying", "running"] as const) {
        await transitionInstance(h.store.db, { id, to, correlation_id: "agent" });
      }
      const noTarget = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/rollback`,
        headers: h.auth("project_member"),
      });
      assert.equal(noTarget.statusCode, 409);
      assert.equal(noTarget.json().code, "instance.no_rollback_target");
      await seedLaunchableVersion(h.store.db, "2026.05");
      const upgrade = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/upgrade`,
        headers: { ...h.auth("project_member"), "x-correlation-id": "up-1" },
        payload: { app_version: "2026.05" },
      });
      assert.equal(upgrade.statusCode, 202, upgrade.body);
      const upgraded = upgrade.json();
      assert.equal(upgraded.app_version, "2026.05");
      assert.equal(upgraded.state, "restarting");
      assert.ok(upgraded.generation > 1);
      assert.deepEqual(upgraded.gpu_indices, launched.json().gpu_indices);
      assert.equal(upgraded.resolved_values.config.workspace_mount, "project_storage");
      const task = (await listTasks(h.store.db, { instance_id: id })).at(-1);
      assert.equal(task?.kind, "workload.oci_launch");
      assert.equal(task?.correlation_id, "up-1");
      assert.equal(
        (task?.spec.identity as { generation?: number } | undefined)?.generation,
        upgraded.generation,
      );
      const same = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/upgrade`,
        headers: h.auth("project_member"),
        payload: { app_version: "2026.05" },
      });
      assert.equal(same.statusCode, 409);
      await transitionInstance(h.store.db, { id, to: "running", correlation_id: "agent" });
      const rollback = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/rollback`,
        headers: { ...h.auth("project_member"), "x-correlation-id": "down-1" },
      });
      assert.equal(rollback.statusCode, 202, rollback.body);
      assert.equal(rollback.json().app_version, "2026.04");
      assert.equal(rollback.json().artifact_id, launched.json().artifact_id);
      assert.ok(rollback.json().generation > upgraded.generation);
      const again = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/rollback`,
        headers: h.auth("project_member"),
      });
      assert.equal(again.json().code, "instance.no_rollback_target");
      const missing = await h.app.inject({
        method: "POST",
        url: `${base}/${id}/upgrade`,
        headers: h.auth("project_member"),
        payload: { app_version: "0.0.1" },
      });
      assert.equal(missing.statusCode, 404);
    });

    it("property: junk bodies never get a 5xx and a refusal never writes", async () => {
      const db = h.store.db;
      const valid = launchBody(world.allocation.id);
      const fieldValue = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.string({ maxLength: 40 }),
        fc.constantFrom("\u0000", "jupyterlab", "2026.04", world.allocation.id, -1, 1e308),
      );
      const mutated = fc
        .record({
          drop: fc.subarray(Object.keys(valid)),
          set: fc.dictionary(
            fc.constantFrom(...Object.keys(valid), "extra", "__proto__", "constructor"),
            fieldValue,
            { maxKeys: 3 },
          ),
          config: fc.dictionary(
            fc.constantFrom(
              "workspace_mount",
              "exposure_mode",
              "host_port",
              "python_packages",
              "x",
            ),
            fieldValue,
            { maxKeys: 3 },
          ),
        })
        .map(({ drop, set, config }) => {
          const body: Record<string, unknown> = {
            ...valid,
            config: { ...(valid.config as object), ...config },
          };
          for (const key of drop) delete body[key];
          return JSON.stringify({ ...body, ...set });
        });
      const payload = fc.oneof(
        fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
        fc.string({ maxLength: 200 }),
        mutated,
      );
      await fc.assert(
        fc.asyncProperty(payload, async (text) => {
          const before = await countLaunchRows(db);
          const response = await h.app.inject({
            method: "POST",
            url: base,
            headers: { ...h.auth("project_member"), "content-type": "application/json" },
            payload: text,
          });
          assert.ok(
            response.statusCode < 500,
            `${response.statusCode} ${response.body} for ${text}`,
          );
          const body = response.json();
          const after = await countLaunchRows(db);
          if (response.statusCode === 202) {
            assert.equal(after.instances, before.instances + 1);
            assert.equal(after.tasks, before.tasks + 1);
            assert.equal(after.events, before.events + 1);
          } else {
            assert.equal(typeof body.code, "string");
            assert.deepEqual(after, before, `refused ${body.code} but wrote rows`);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
}

describe("app instances, fail-closed by default", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => h.close());

  it("9 refuses every launch while OCI node tasks are not enabled", async () => {
    const world = await seedLaunchWorld(h.store.db, h.projectId);
    const response = await h.app.inject({
      method: "POST",
      url: `/api/v1/projects/${h.projectId}/app-instances`,
      headers: h.auth("project_member"),
      payload: launchBody(world.allocation.id),
    });
    assert.equal(response.statusCode, 503);
    assert.equal(response.json().code, "launch.adapter_disabled");
    assert.equal(response.json().details.check_number, 9);
    assert.equal((await countLaunchRows(h.store.db)).instances, 0);
    assert.ok(await createNode(h.store.db, { name: "unused" }));
  });
});
