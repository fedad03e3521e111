import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  createPodmanService,
  MAX_SOCKET_PATH_BYTES,
  toPodmanSocketPath,
  toServiceEnv,
} from "./podman-service.js";

describe("toPodmanSocketPath", () => {
  it("puts the socket under the state directory", () => {
    assert.equal(
      toPodmanSocketPath("/var/lib/gpuaas-agent"),
      "/var/lib/gpuaas-agent/podman/podman.sock",
    );
  });

  it("moves a socket path too long for the kernel to a per-state-dir temp directory", () => {
    const long = `/srv/${"x".repeat(120)}`;
    const path = toPodmanSocketPath(long, "/tmp");
    assert.match(path, /^\/tmp\/gpuaas-podman-[0-9a-f]{16}\/podman\.sock$/);
    assert.ok(Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES);
    assert.equal(toPodmanSocketPath(long, "/tmp"), path);
    assert.notEqual(toPodmanSocketPath(`${long}y`, "/tmp"), path);
  });
});

describe("toServiceEnv", () => {
  it("keeps the agent's environment but not its own GPUAAS_ settings", () => {
    assert.deepEqual(
      toServiceEnv(
        { PATH: "/usr/bin", GPUAAS_AGENT_BOOTSTRAP_TOKEN: "secret", HOME: undefined },
        { CONTAINERS_CONF: "/state/containers.conf" },
      ),
      { PATH: "/usr/bin", CONTAINERS_CONF: "/state/containers.conf" },
    );
  });
});

describe("createPodmanService", () => {
  it("rejects when podman is not installed, then at once until its back-off has passed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-svc-"));
    const service = createPodmanService({
      binary: join(dir, "no-such-podman"),
      socketPath: join(dir, "podman", "podman.sock"),
      startTimeoutMs: 2_000,
    });
    try {
      await assert.rejects(service.ready(), /no-such-podman is not on PATH/);
      const started = Date.now();
      await assert.rejects(service.ready(), /not on PATH/);
      assert.ok(Date.now() - started < 100, "no second attempt inside the back-off");
      assert.equal(service.pid(), undefined);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
    await assert.rejects(service.ready(), /stopped/);
  });

  it("refuses a socket path longer than a unix socket can be", async () => {
    const service = createPodmanService({ socketPath: `/tmp/${"x".repeat(200)}/podman.sock` });
    await assert.rejects(service.ready(), /longer than 107 bytes/);
    await service.stop();
  });
});
