// Closing the control plane is bounded: requests that are still open when it closes (a client
// that sent half a request, a long poll that began a moment before) are cut after a short grace
// instead of holding `gpuaas up` until their own timeouts run out.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { CLOSE_GRACE_MS } from "../src/index.js";
import { startHarness } from "./http-harness.js";

describe("closing the app", () => {
  it("cuts a connection that never finishes its request after the grace period", {
    timeout: 20_000,
  }, async () => {
    const h = await startHarness();
    const address = await h.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = new URL(address);
    const socket = connect(Number(port), "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    // Headers begun, never finished: the server waits for the rest.
    socket.write("POST /api/v1/agent/leases HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await h.close();
    await ended;
    const took = Date.now() - started;
    // Without the cut, close waits for the server's header timeout (a minute) and the test's
    // timeout fails it; with it, close first gives the request its grace period.
    assert.ok(took >= CLOSE_GRACE_MS - 50, `close waited the grace period first (${took} ms)`);
  });
});
