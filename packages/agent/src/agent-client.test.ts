import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AgentApiError, createAgentClient, toServerUrl } from "./agent-client.js";

describe("toServerUrl", () => {
  it("keeps the origin and path, and refuses credentials, queries and other schemes", () => {
    assert.equal(toServerUrl("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    assert.equal(toServerUrl("https://gpuaas.example/base/"), "https://gpuaas.example/base");
    assert.throws(() => toServerUrl("http://u:p@127.0.0.1:1"), /credentials/);
    assert.throws(() => toServerUrl("http://127.0.0.1:1/?x=1"), /query/);
    assert.throws(() => toServerUrl("ftp://127.0.0.1"), /http\(s\)/);
    assert.throws(() => toServerUrl("not a url"), /not a URL/);
  });
});

describe("createAgentClient", () => {
  it("sends the node credential as a bearer token and maps refusals to their codes", async () => {
    const seen: { url: string; auth: string | null }[] = [];
    const client = createAgentClient({
      serverUrl: "http://127.0.0.1:9",
      fetch: async (url, init) => {
        const headers = new Headers(init?.headers);
        seen.push({ url: String(url), auth: headers.get("authorization") });
        return new Response(
          JSON.stringify({ code: "task.lease_not_held", message: "moved on", correlation_id: "c" }),
          { status: 409, headers: { "content-type": "application/json" } },
        );
      },
    });
    await assert.rejects(client.extend("t1"), /no node credential/);
    client.setCredential("gpuaas_node_x");
    const error = await client.extend("t1").catch((caught: unknown) => caught);
    assert.ok(error instanceof AgentApiError);
    assert.equal(error.status, 409);
    assert.equal(error.code, "task.lease_not_held");
    assert.equal(error.transient, false);
    assert.deepEqual(seen, [
      { url: "http://127.0.0.1:9/api/v1/agent/tasks/t1/extend", auth: "Bearer gpuaas_node_x" },
    ]);
  });

  it("reports an unreachable control plane as a transient agent.unreachable", async () => {
    const client = createAgentClient({
      serverUrl: "http://127.0.0.1:9",
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    const error = await client
      .register({ bootstrap_token: "b", hostname: "h", inventory: {} })
      .catch((caught: unknown) => caught);
    assert.ok(error instanceof AgentApiError);
    assert.equal(error.code, "agent.unreachable");
    assert.equal(error.transient, true);
  });
});
