import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RuntimeCommandError } from "./container-runtime.js";
import { createPodmanDriver } from "./create-podman-driver.js";
import { PodmanApiUnreachableError } from "./podman-api-runtime.js";
import type { CommandRequest, CommandRunner } from "./run-command.js";

/** One frame of an attached stream: stream id, three zero bytes, big-endian length, payload. */
function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe("createPodmanDriver's fallback to the CLI", () => {
  it("does not run an exec again through the CLI when the API went away after it ran", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-driver-"));
    const socketPath = join(dir, "podman.sock");
    const requests: string[] = [];
    // A libpod stand-in that runs the exec, then goes away before its exit code is asked for.
    const server = createServer((request, response) => {
      const url = request.url ?? "";
      requests.push(`${request.method} ${url}`);
      request.resume();
      if (url.endsWith("/_ping")) {
        response.end("OK");
      } else if (url.endsWith("/containers/c1/exec")) {
        response.writeHead(201, { "content-type": "application/json" });
        response.end(JSON.stringify({ Id: "e1" }));
      } else if (url.endsWith("/exec/e1/start")) {
        response.on("finish", () => {
          server.close();
          server.closeAllConnections();
          rmSync(socketPath, { force: true });
        });
        response.writeHead(200);
        response.end(frame(1, "charged the card\n"));
      } else {
        response.writeHead(500);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const cliCalls: CommandRequest[] = [];
    const run: CommandRunner = async (request) => {
      cliCalls.push(request);
      return {
        exitCode: 0,
        signal: null,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        durationMs: 1,
      };
    };
    const driver = createPodmanDriver({ socketPath, startService: false, run });
    try {
      await assert.rejects(
        driver.exec("c1", ["/bin/sh", "-c", "charge-card"], 5_000),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeCommandError);
          assert.ok(!(error instanceof PodmanApiUnreachableError));
          assert.equal(error.kind, "failed");
          return true;
        },
      );
      assert.ok(requests.some((line) => line.includes("/exec/e1/start")));
      assert.deepEqual(
        cliCalls.map((call) => call.args),
        [],
        "the exec ran once, through the API",
      );
    } finally {
      await driver.close();
      server.closeAllConnections();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("does the operation through the CLI when its first request found no API", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gpuaas-driver-"));
    const socketPath = join(dir, "podman.sock");
    const server = createServer((request, response) => {
      request.resume();
      // Answers the ping, then is gone before the operation's request.
      response.on("finish", () => {
        server.close();
        server.closeAllConnections();
        rmSync(socketPath, { force: true });
      });
      response.end("OK");
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const cliCalls: CommandRequest[] = [];
    const run: CommandRunner = async (request) => {
      cliCalls.push(request);
      return {
        exitCode: 0,
        signal: null,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        durationMs: 1,
      };
    };
    const driver = createPodmanDriver({ socketPath, startService: false, run });
    try {
      await driver.startContainer("c1");
      assert.deepEqual(
        cliCalls.map((call) => call.args),
        [["start", "c1"]],
      );
    } finally {
      await driver.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
