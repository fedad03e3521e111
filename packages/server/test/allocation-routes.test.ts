// Node and allocation routes: operator registration, bootstrap tokens shown once, GPU masks, the
// allocation lifecycle, and project members reading only their own project's allocations.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { listAudit, redeemBootstrapToken } from "../src/index.js";
import { type Harness, type Role, startHarness } from "./http-harness.js";

describe("node and allocation routes", () => {
  let h: Harness;
  let nodeId: string;
  let allocationId: string;
  let otherAllocationId: string;

  before(async () => {
    h = await startHarness({ config: { log_level: "warn" } });
  });
  after(async () => h?.close());

  const post = (url: string, payload: unknown, role: Role = "operator") =>
    h.app.inject({
      method: "POST",
      url: `/api/v1${url}`,
      headers: h.auth(role),
      payload: payload as Record<string, unknown>,
    });
  const get = (url: string, role: Role = "operator") =>
    h.app.inject({ method: "GET", url: `/api/v1${url}`, headers: h.auth(role) });
  const allocation = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    project_id: h.projectId,
    node_id: nodeId,
    accelerator: { vendor: "nvidia", family: "hopper", sku: "h200" },
    cpu_architecture: "amd64",
    gpu_indices: [0, 1],
    cpu_cores: 16,
    memory_gib: 128,
    storage_modes: ["scratch", "project_storage"],
    ...overrides,
  });

  it("registers, lists and reads nodes as an operator", async () => {
    const created = await post("/nodes", { name: "gpu-01", inventory: { gpus: 8 } });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().state, "pending");
    assert.equal(created.json().enrolled, false);
    nodeId = created.json().id;
    const duplicate = await post("/nodes", { name: "gpu-01" });
    assert.equal(duplicate.statusCode, 409);
    assert.equal(duplicate.json().code, "store.conflict");
    const list = await get("/nodes");
    assert.deepEqual(
      list.json().items.map((node: { name: string }) => node.name),
      ["gpu-01"],
    );
    const one = await get(`/nodes/${nodeId}`);
    assert.equal(one.json().name, "gpu-01");
    const missing = await get("/nodes/nope");
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, "resource.not_found");
    const badName = await post("/nodes", { name: "Bad Name" });
    assert.equal(badName.statusCode, 400);
    assert.equal(badName.json().code, "request.invalid");
  });

  it("mints a one-time bootstrap token, shown once and never logged or audited", async () => {
    const minted = await post(`/nodes/${nodeId}/bootstrap-tokens`, {});
    assert.equal(minted.statusCode, 201, minted.body);
    assert.equal(minted.headers["cache-control"], "no-store");
    const token: string = minted.json().token;
    assert.ok(token.length > 20);
    const noBody = await h.app.inject({
      method: "POST",
      url: `/api/v1/nodes/${nodeId}/bootstrap-tokens`,
      headers: h.auth("operator"),
    });
    assert.equal(noBody.statusCode, 201, noBody.body);
    assert.notEqual(noBody.json().token, token);
    const shortTtl = await post(`/nodes/${nodeId}/bootstrap-tokens`, { ttl_seconds: 5 });
    assert.equal(shortTtl.statusCode, 400);
    const enrollment = await redeemBootstrapToken(h.store.db, token);
    assert.equal(enrollment?.node.id, nodeId);
    assert.equal(
      await redeemBootstrapToken(h.store.db, token),
      undefined,
      "a bootstrap token works once",
    );
    const node = await get(`/nodes/${nodeId}`);
    assert.ok(!node.body.includes(token));
    assert.ok(!h.logs.join("\n").includes(token));
    const audit = JSON.stringify((await listAudit(h.store.db)).items);
    assert.ok(audit.includes("node.bootstrap_token_created"));
    assert.ok(!audit.includes(token));
    const missing = await post("/nodes/nope/bootstrap-tokens", {});
    assert.equal(missing.statusCode, 404);
  });

  it("creates an allocation with its device mask, and another project's on other GPUs", async () => {
    const created = await post("/allocations", allocation());
    assert.equal(created.statusCode, 201, created.body);
    const body = created.json();
    assert.equal(body.state, "active");
    assert.deepEqual(body.gpu_indices, [0, 1]);
    assert.deepEqual(body.accelerator, { vendor: "nvidia", family: "hopper", sku: "h200" });
    allocationId = body.id;
    const other = await post(
      "/allocations",
      allocation({ project_id: h.otherProjectId, gpu_indices: [2, 3] }),
    );
    assert.equal(other.statusCode, 201, other.body);
    otherAllocationId = other.json().id;
  });

  it("refuses a GPU another allocation holds", async () => {
    const clash = await post("/allocations", allocation({ gpu_indices: [1, 4] }));
    assert.equal(clash.statusCode, 409);
    assert.equal(clash.json().code, "allocation.gpu_conflict");
    assert.deepEqual(clash.json().details.taken, [{ index: 1, allocation_id: allocationId }]);
  });

  it("reports every allocation problem at once and never 500s on bad input", async () => {
    const bad = await post(
      "/allocations",
      allocation({
        project_id: "nope",
        node_id: "nada",
        accelerator: { vendor: "none", sku: "x" },
        gpu_indices: [5],
      }),
    );
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json().code, "allocation.invalid");
    assert.deepEqual(
      bad.json().issues.map((issue: { pointer: string }) => issue.pointer),
      ["/body/project_id", "/body/node_id", "/body/gpu_indices", "/body/accelerator"],
    );
    const noGpus = await post("/allocations", allocation({ gpu_indices: [] }));
    assert.equal(noGpus.json().code, "allocation.invalid");
    for (const payload of [
      allocation({ gpu_indices: [-1] }),
      allocation({ gpu_indices: [1, 1] }),
      allocation({ cpu_cores: 0 }),
      allocation({ storage_modes: ["nfs"] }),
      allocation({ cpu_architecture: "riscv" }),
      allocation({ extra: true }),
      { project_id: h.projectId },
    ]) {
      const response = await post("/allocations", payload);
      assert.equal(response.statusCode, 400, JSON.stringify(payload));
      assert.equal(response.json().code, "request.invalid");
    }
  });

  it("lists allocations by project or node for operators", async () => {
    const byProject = await get(`/allocations?project_id=${h.projectId}`);
    assert.deepEqual(
      byProject.json().items.map((item: { id: string }) => item.id),
      [allocationId],
    );
    const byNode = await get(`/allocations?node_id=${nodeId}`);
    assert.equal(byNode.json().items.length, 2);
    const unfiltered = await get("/allocations");
    assert.equal(unfiltered.statusCode, 400);
    assert.equal(unfiltered.json().code, "request.invalid");
    const unknownFilter = await get("/allocations?owner=me");
    assert.equal(unknownFilter.statusCode, 400);
  });

  it("lets project members read their project's allocations only", async () => {
    for (const role of [
      "project_viewer",
      "project_member",
      "project_admin",
      "org_admin",
      "service_account_member",
    ] as const) {
      const list = await get(`/projects/${h.projectId}/allocations`, role);
      assert.equal(list.statusCode, 200, role);
      assert.deepEqual(
        list.json().items.map((item: { id: string }) => item.id),
        [allocationId],
        role,
      );
      const one = await get(`/projects/${h.projectId}/allocations/${allocationId}`, role);
      assert.equal(one.statusCode, 200, role);
    }
    // An allocation that exists, in another project, reads as absent through this project.
    const foreign = await get(
      `/projects/${h.projectId}/allocations/${otherAllocationId}`,
      "project_member",
    );
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, "resource.not_found");
    const missing = await get(`/projects/${h.projectId}/allocations/nope`, "project_member");
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(Object.keys(foreign.json()).sort(), Object.keys(missing.json()).sort());
    const outsider = await get(`/projects/${h.projectId}/allocations`, "other_project_member");
    assert.equal(outsider.statusCode, 403);
    const noRole = await get(`/projects/${h.projectId}/allocations/${allocationId}`, "no_role");
    assert.equal(noRole.statusCode, 403);
  });

  it("keeps node and allocation administration to operators", async () => {
    for (const role of ["project_admin", "org_admin", "service_account_member"] as const) {
      assert.equal((await post("/nodes", { name: "gpu-x" }, role)).statusCode, 403, role);
      assert.equal((await get("/nodes", role)).statusCode, 403, role);
      assert.equal(
        (await post(`/nodes/${nodeId}/bootstrap-tokens`, {}, role)).statusCode,
        403,
        role,
      );
      assert.equal(
        (await post("/allocations", allocation({ gpu_indices: [6] }), role)).statusCode,
        403,
        role,
      );
      assert.equal(
        (await get(`/allocations?project_id=${h.projectId}`, role)).statusCode,
        403,
        role,
      );
      assert.equal(
        (await post(`/allocations/${allocationId}/transitions`, { to: "released" }, role))
          .statusCode,
        403,
        role,
      );
    }
  });

  it("releases an allocation through its lifecycle and refuses illegal moves", async () => {
    const releasing = await post(`/allocations/${allocationId}/transitions`, { to: "releasing" });
    assert.equal(releasing.statusCode, 200, releasing.body);
    assert.equal(releasing.json().state, "releasing");
    const back = await post(`/allocations/${allocationId}/transitions`, { to: "active" });
    assert.equal(back.statusCode, 409);
    assert.equal(back.json().code, "allocation.illegal_transition");
    const released = await post(`/allocations/${allocationId}/transitions`, { to: "released" });
    assert.equal(released.json().state, "released");
    assert.ok(released.json().released_at);
    // Released GPUs can be allocated again.
    const reuse = await post("/allocations", allocation({ gpu_indices: [0] }));
    assert.equal(reuse.statusCode, 201, reuse.body);
    const missing = await post("/allocations/nope/transitions", { to: "released" });
    assert.equal(missing.statusCode, 404);
    const bogus = await post(`/allocations/${allocationId}/transitions`, { to: "gone" });
    assert.equal(bogus.statusCode, 400);
  });

  it("moves nodes along their lifecycle", async () => {
    const online = await post(`/nodes/${nodeId}/transitions`, { to: "online" });
    assert.equal(online.statusCode, 200, online.body);
    const drain = await post(`/nodes/${nodeId}/transitions`, { to: "draining" });
    assert.equal(drain.statusCode, 200, drain.body);
    const retire = await post(`/nodes/${nodeId}/transitions`, { to: "retired" });
    assert.equal(retire.json().state, "retired");
    const revive = await post(`/nodes/${nodeId}/transitions`, { to: "online" });
    assert.equal(revive.statusCode, 409);
    assert.equal(revive.json().code, "node.illegal_transition");
    const token = await post(`/nodes/${nodeId}/bootstrap-tokens`, {});
    assert.equal(token.statusCode, 409);
    const onRetired = await post("/allocations", allocation({ gpu_indices: [7] }));
    assert.equal(onRetired.json().code, "allocation.invalid");
  });

  it("documents every route in the OpenAPI document", async () => {
    const doc = (await h.app.inject({ method: "GET", url: "/api/v1/openapi.json" })).json() as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string }>>;
    };
    for (const path of [
      "/api/v1/nodes",
      "/api/v1/nodes/{node_id}",
      "/api/v1/nodes/{node_id}/bootstrap-tokens",
      "/api/v1/allocations",
      "/api/v1/allocations/{allocation_id}/transitions",
      "/api/v1/projects/{project_id}/allocations/{allocation_id}",
      "/api/v1/apps/catalog/{slug}/versions/{version}/artifacts",
      "/api/v1/artifacts/{artifact_id}/verify",
      "/api/v1/artifacts/{artifact_id}/transitions",
    ]) {
      const operations = doc.paths[path];
      assert.ok(operations, path);
      for (const operation of Object.values(operations)) {
        assert.ok(operation.summary && operation.tags?.length, path);
      }
    }
  });
});
