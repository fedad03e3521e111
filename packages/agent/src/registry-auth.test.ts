import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  fingerprintToken,
  registryOfImage,
  renderAuthConfig,
  sweepAuthDirs,
  withPullAuth,
} from "./registry-auth.js";

describe("registry auth files", () => {
  it("renders the docker-style auths entry every runtime reads", () => {
    const text = renderAuthConfig({ registry: "127.0.0.1:5055", token: "t0k3n" }, "gpuaas");
    assert.deepEqual(JSON.parse(text), {
      auths: { "127.0.0.1:5055": { auth: Buffer.from("gpuaas:t0k3n").toString("base64") } },
    });
    const named = renderAuthConfig({ registry: "r:1", token: "t", username: "task-42" }, "gpuaas");
    assert.match(named, new RegExp(Buffer.from("task-42:t").toString("base64")));
  });

  it("writes a 0600 file in a 0700 directory and deletes it after success and failure", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-auth-"));
    try {
      const credential = { registry: "127.0.0.1:5055", token: "secret-token" };
      const seen = await withPullAuth(dir, "inst-1", credential, "gpuaas", async (authDir) => {
        const file = join(authDir, "config.json");
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        assert.equal((await stat(authDir)).mode & 0o777, 0o700);
        assert.match(await readFile(file, "utf8"), /auths/);
        return authDir;
      });
      await assert.rejects(stat(seen));
      await assert.rejects(
        withPullAuth(dir, "inst-1", credential, "gpuaas", async () => {
          throw new Error("pull failed");
        }),
        /pull failed/,
      );
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("sweeps directories left by a dead agent, per instance without touching look-alikes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-agent-sweep-"));
    try {
      await mkdir(join(dir, "pull-a-Xy12Z9"));
      await mkdir(join(dir, "pull-a-b-Qw34Er"));
      await mkdir(join(dir, "unrelated"));
      assert.equal(await sweepAuthDirs(dir, "a"), 1);
      assert.deepEqual((await readdir(dir)).sort(), ["pull-a-b-Qw34Er", "unrelated"]);
      assert.equal(await sweepAuthDirs(dir), 1);
      assert.deepEqual(await readdir(dir), ["unrelated"]);
      assert.equal(await sweepAuthDirs(join(dir, "missing")), 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names tokens by fingerprint and registries by host", () => {
    assert.match(fingerprintToken("anything"), /^token:[0-9a-f]{6}$/);
    assert.equal(registryOfImage(`127.0.0.1:5055/a/b@sha256:${"0".repeat(64)}`), "127.0.0.1:5055");
  });
});
