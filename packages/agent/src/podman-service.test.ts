import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  createPodmanService,
  MAX_SOCKET_PATH_BYTES,
  toPodmanSocketPath,
  toServiceEnv,
} from "./podman-service.js";

/**
 * A stand-in `podman system service`: answers on its socket, notes each start in `startsFile`, and
 * exits `lifetimeMs` after it listens.
 */
async function writeFakeService(dir: string, startsFile: string, lifetimeMs: number) {
  const path = join(dir, "fake-podman");
  await writeFile(
    path,
    [
      `#!${process.execPath}`,
      'const { appendFileSync } = require("node:fs");',
      'const { createServer } = require("node:http");',
      'const socket = process.argv[process.argv.length - 1].replace("unix://", "");',
      `appendFileSync(${JSON.stringify(startsFile)}, "start\\n");`,
      'createServer((request, response) => response.end("OK")).listen(socket, () =>',
      `  setTimeout(() => process.exit(3), ${lifetimeMs}),`,
      ");",
      "",
    ].join("\n"),
  );
  await chmod(path, 0o755);
  return path;
}

async function countLines(file: string): Promise<number> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").filter((line) => line.length > 0).length;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`not within ${ms} ms`);
}

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
  it("passes only the listed variables of the agent's environment, plus the driver's", () => {
    const kept = {
      PATH: "/usr/bin",
      HOME: "/home/agent",
      USER: "agent",
      LOGNAME: "agent",
      XDG_RUNTIME_DIR: "/run/user/1000",
      XDG_CONFIG_HOME: "/home/agent/.config",
      XDG_DATA_HOME: "/home/agent/.local/share",
      TMPDIR: "/var/tmp",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      TZ: "UTC",
      CONTAINERS_STORAGE_CONF: "/etc/gpuaas/storage.conf",
      CONTAINERS_REGISTRIES_CONF: "/etc/gpuaas/registries.conf",
      REGISTRIES_CONFIG_PATH: "/etc/gpuaas/registries.conf",
      http_proxy: "http://proxy:3128",
      https_proxy: "http://proxy:3128",
      no_proxy: "localhost",
      HTTP_PROXY: "http://proxy:3128",
      HTTPS_PROXY: "http://proxy:3128",
      NO_PROXY: "localhost",
      DBUS_SESSION_BUS_ADDRESS: "unix:path=/run/user/1000/bus",
    };
    assert.deepEqual(
      toServiceEnv(
        {
          ...kept,
          DATABASE_URL: "postgres://gpuaas:hunter2@db/gpuaas",
          GPUAAS_AGENT_BOOTSTRAP_TOKEN: "secret",
          AWS_SECRET_ACCESS_KEY: "secret",
          NODE_OPTIONS: "--require /tmp/x.js",
          REGISTRY_AUTH_FILE: "/home/agent/auth.json",
          SHELL: undefined,
        },
        { CONTAINERS_CONF: "/state/containers.conf" },
      ),
      { ...kept, CONTAINERS_CONF: "/state/containers.conf" },
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
      await assert.rejects(service.ready(), /not on PATH/);
      assert.equal(service.pid(), undefined);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
    await assert.rejects(service.ready(), /stopped/);
  });

  it("makes no second attempt inside the back-off after a failed start", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-svc-"));
    const starts = join(dir, "starts");
    const fake = join(dir, "failing-podman");
    await writeFile(
      fake,
      `#!${process.execPath}\nrequire("node:fs").appendFileSync(${JSON.stringify(starts)}, "start\\n");\nprocess.exit(125);\n`,
    );
    await chmod(fake, 0o755);
    const service = createPodmanService({
      binary: fake,
      socketPath: join(dir, "podman", "podman.sock"),
      startTimeoutMs: 5_000,
      backoff: { minMs: 60_000 },
    });
    try {
      await assert.rejects(service.ready());
      assert.equal(await countLines(starts), 1);
      await assert.rejects(service.ready());
      assert.equal(await countLines(starts), 1, "no second start inside the back-off");
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("backs off a service that keeps dying, and says so once per back-off step", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-svc-"));
    const starts = join(dir, "starts");
    const fake = await writeFakeService(dir, starts, 150);
    const told: number[] = [];
    const service = createPodmanService({
      binary: fake,
      socketPath: join(dir, "podman", "podman.sock"),
      backoff: { minMs: 50, maxMs: 200, stableMs: 60_000 },
      onExit: (_message, restartInMs) => told.push(restartInMs),
    });
    try {
      await service.ready();
      await waitFor(async () => (await countLines(starts)) >= 6, 10_000);
      // 50, 100, 200, then 200 every time: told at each step, not at each death.
      assert.deepEqual(told, [50, 100, 200]);
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("starts the back-off over after the service stayed up for a while", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-svc-"));
    const starts = join(dir, "starts");
    const fake = await writeFakeService(dir, starts, 400);
    const told: number[] = [];
    const service = createPodmanService({
      binary: fake,
      socketPath: join(dir, "podman", "podman.sock"),
      backoff: { minMs: 50, maxMs: 5_000, stableMs: 250 },
      onExit: (_message, restartInMs) => told.push(restartInMs),
    });
    try {
      await service.ready();
      await waitFor(async () => (await countLines(starts)) >= 4, 10_000);
      assert.ok(told.length >= 3, String(told));
      assert.ok(
        told.every((ms) => ms === 50),
        String(told),
      );
    } finally {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a socket path longer than a unix socket can be", async () => {
    const service = createPodmanService({ socketPath: `/tmp/${"x".repeat(200)}/podman.sock` });
    await assert.rejects(service.ready(), /longer than 107 bytes/);
    await service.stop();
  });
});
