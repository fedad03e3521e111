// `gpuaas up`'s own node: the local host becomes a node with one allocation in the default
// project, found again (never duplicated) on the next start, and its agent joins with a bootstrap
// token minted in memory. On every store backend.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  authenticateNode,
  createOrganization,
  createProject,
  ensureLocalNode,
  type LocalHostShape,
  listAllocations,
  listAudit,
  listNodes,
  mintLocalBootstrapToken,
  redeemBootstrapToken,
  setNodeState,
  toNodeName,
} from "../src/index.js";
import { BACKENDS } from "./store-backends.js";

const HOST: LocalHostShape = {
  name: "local-host",
  cpu_architecture: "amd64",
  accelerator_vendor: "none",
  gpu_indices: [],
  cpu_cores: 2,
  memory_gib: 23,
  storage_modes: ["scratch", "project_storage"],
};

describe("toNodeName", () => {
  it("turns a host name into a node name", () => {
    assert.equal(toNodeName("GPU_Host.Example"), "gpu-host.example");
    assert.equal(toNodeName("-x-"), "x");
    assert.equal(toNodeName("___"), "localhost");
    assert.equal(toNodeName("a".repeat(80)).length, 63);
  });
});

for (const backend of BACKENDS) {
  describe(`ensureLocalNode (${backend.name})`, () => {
    it("registers the host once with one matching allocation, and finds both again", async () => {
      const { store, close } = await backend.open();
      try {
        const org = await createOrganization(store.db, { slug: "default", display_name: "Org" });
        const project = await createProject(store.db, {
          org_id: org.id,
          slug: "default",
          display_name: "Default",
        });
        const first = await ensureLocalNode(store, { project_id: project.id, host: HOST });
        assert.equal(first.created_node, true);
        assert.equal(first.created_allocation, true);
        assert.equal(first.node.name, "local-host");
        assert.equal(first.allocation.accelerator.vendor, "none");
        assert.deepEqual(first.allocation.storage_modes, ["scratch", "project_storage"]);
        assert.equal(first.allocation.cpu_cores, 2);
        assert.equal(first.allocation.memory_gib, 23);

        const again = await ensureLocalNode(store, { project_id: project.id, host: HOST });
        assert.equal(again.created_node, false);
        assert.equal(again.created_allocation, false);
        assert.equal(again.node.id, first.node.id);
        assert.equal(again.allocation.id, first.allocation.id);
        assert.equal((await listNodes(store.db)).length, 1);
        assert.equal((await listAllocations(store.db, { project_id: project.id })).length, 1);

        const token = await mintLocalBootstrapToken(store, first.node.id);
        const enrolled = await redeemBootstrapToken(store.db, token);
        assert.equal(enrolled?.node.id, first.node.id);
        assert.equal(
          (await authenticateNode(store.db, enrolled?.credential ?? ""))?.id,
          first.node.id,
        );
        const audit = await listAudit(store.db, {});
        const actions = audit.items.map((entry) => entry.action);
        assert.ok(actions.includes("node.registered"));
        assert.ok(actions.includes("allocation.created"));
        assert.ok(actions.includes("node.bootstrap_token_created"));
        assert.ok(!JSON.stringify(audit).includes(token), "the token is never recorded");

        await setNodeState(store.db, { id: first.node.id, to: "retired" });
        await assert.rejects(
          ensureLocalNode(store, { project_id: project.id, host: HOST }),
          /is retired/,
        );
      } finally {
        await close();
      }
    });
  });
}
