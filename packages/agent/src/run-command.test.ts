import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findExecutable, runCommand } from "./run-command.js";

describe("runCommand", () => {
  it("passes arguments as they are: no shell sees them", async () => {
    const hostile = "$(echo pwned); rm -rf / `id` && echo no";
    const result = await runCommand({ file: "printf", args: ["%s", hostile], timeoutMs: 5_000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.stdout, hostile);
  });

  it("kills a command that runs past its timeout", async () => {
    const result = await runCommand({ file: "sleep", args: ["10"], timeoutMs: 200 });
    assert.equal(result.timedOut, true);
    assert.notEqual(result.exitCode, 0);
    assert.ok(result.durationMs < 5_000);
  });

  it("bounds the output it keeps and stops a runaway writer", async () => {
    const result = await runCommand({
      file: "yes",
      args: ["0123456789"],
      timeoutMs: 5_000,
      maxOutputBytes: 1000,
    });
    assert.equal(result.truncated, true);
    assert.equal(result.stdout.length, 1000);
    assert.equal(result.timedOut, false);
  });

  it("reports a missing program instead of throwing", async () => {
    const result = await runCommand({ file: "gpuaas-no-such-tool", args: [], timeoutMs: 1_000 });
    assert.equal(result.spawnError, "ENOENT");
    assert.equal(result.exitCode, null);
  });

  it("adds and removes environment variables", async () => {
    const result = await runCommand({
      file: "sh",
      args: ["-c", 'printf "%s|%s" "$GPUAAS_A" "${HOME:-unset}"'],
      env: { GPUAAS_A: "set", HOME: undefined },
      timeoutMs: 5_000,
    });
    assert.equal(result.stdout, "set|unset");
  });
});

describe("findExecutable", () => {
  it("finds programs on PATH and absolute paths, without running them", async () => {
    assert.ok((await findExecutable("sh"))?.endsWith("/sh"));
    assert.equal(await findExecutable("gpuaas-no-such-tool"), undefined);
    assert.equal(await findExecutable("/bin/sh"), "/bin/sh");
    assert.equal(await findExecutable("sh", "/nonexistent"), undefined);
  });
});
