import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RuntimeCommandError } from "./container-runtime.js";
import {
  classifyLibpodFailure,
  createPodmanApiRuntime,
  PodmanApiUnreachableError,
  toLibpodMessage,
} from "./podman-api-runtime.js";
import { AUTH_FILE_NAME, withPullAuth } from "./registry-auth.js";

describe("classifyLibpodFailure", () => {
  it("sorts statuses and messages into the CLI driver's kinds", () => {
    assert.equal(classifyLibpodFailure(404, "anything"), "not_found");
    assert.equal(classifyLibpodFailure(401, "anything"), "unauthorized");
    assert.equal(classifyLibpodFailure(403, "anything"), "unauthorized");
    assert.equal(
      classifyLibpodFailure(200, "reading manifest sha256:00 in r/x: manifest unknown"),
      "manifest_unknown",
    );
    assert.equal(
      classifyLibpodFailure(200, "reading manifest: unauthorized: authentication required"),
      "unauthorized",
    );
    assert.equal(
      classifyLibpodFailure(500, 'no container with name or ID "x" found: no such container'),
      "not_found",
    );
    assert.equal(classifyLibpodFailure(500, "setting up CDI devices: unresolvable"), "failed");
    assert.equal(classifyLibpodFailure(409, "container is not running"), "failed");
  });
});

describe("toLibpodMessage", () => {
  it("reads libpod's error body, or gives the text as it is", () => {
    assert.equal(
      toLibpodMessage('{"cause":"no such container","message":"no container x","response":404}'),
      "no container x",
    );
    assert.equal(toLibpodMessage('{"cause":"only cause","response":500}'), "only cause");
    assert.equal(toLibpodMessage(" plain text\n"), "plain text");
  });
});

/** A stand-in libpod socket: each test sets how it answers. */
describe("the podman API driver against a stand-in socket", () => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  let handle: (request: IncomingMessage, response: ServerResponse, body: string) => void;
  const seen: { url: string; headers: IncomingMessage["headers"]; body: string }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gpuaas-libpod-"));
    socketPath = join(dir, "podman.sock");
    server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on("end", () => {
        seen.push({ url: request.url ?? "", headers: request.headers, body });
        handle(request, response, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const json = (response: ServerResponse, status: number, value: unknown) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(value));
  };

  it("sends the credential only in X-Registry-Auth and reads the pull stream's error", async () => {
    handle = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"stream":"Trying to pull…\\n"}\n');
      response.end('{"error":"reading manifest: unauthorized: authentication required"}\n');
    };
    const runtime = createPodmanApiRuntime({
      socketPath,
      plainHttpRegistries: ["127.0.0.1:5055"],
    });
    const token = "gpuaas_pull_abcdefghijklmnopqrstuvwxyz";
    try {
      await assert.rejects(
        withPullAuth(dir, "i1", { registry: "127.0.0.1:5055", token }, "gpuaas", (authDir) =>
          runtime.pullImage(`127.0.0.1:5055/apps/x@sha256:${"a".repeat(64)}`, { authDir }),
        ),
        (error: unknown) => {
          assert.ok(error instanceof RuntimeCommandError);
          assert.equal(error.kind, "unauthorized");
          assert.equal(error.operation, "pull");
          return true;
        },
      );
      const pull = seen.at(-1);
      assert.ok(pull);
      const url = new URL(pull.url, "http://podman");
      assert.equal(url.pathname, "/v4.0.0/libpod/images/pull");
      assert.equal(
        url.searchParams.get("reference"),
        `127.0.0.1:5055/apps/x@sha256:${"a".repeat(64)}`,
      );
      assert.equal(url.searchParams.get("policy"), "always");
      assert.equal(url.searchParams.get("tlsVerify"), "false");
      const header = String(pull.headers["x-registry-auth"]);
      const decoded = JSON.parse(Buffer.from(header, "base64url").toString());
      assert.deepEqual(decoded, {
        username: "gpuaas",
        password: token,
        serveraddress: "127.0.0.1:5055",
      });
      assert.ok(!pull.url.includes(token));
    } finally {
      runtime.close();
    }
  });

  it("verifies TLS for any registry not listed as plain HTTP, and refuses a non-loopback one", async () => {
    handle = (_request, response) => json(response, 200, { id: "abc", images: ["abc"] });
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      await runtime.pullImage(`registry.example:5000/apps/x@sha256:${"b".repeat(64)}`, {});
      const url = new URL(seen.at(-1)?.url ?? "", "http://podman");
      assert.equal(url.searchParams.has("tlsVerify"), false);
      // No auth file at all: no header (the service's own credentials, as the CLI without
      // --authfile).
      assert.equal(seen.at(-1)?.headers["x-registry-auth"], undefined);
    } finally {
      runtime.close();
    }
    assert.throws(
      () => createPodmanApiRuntime({ socketPath, plainHttpRegistries: ["10.0.0.1:5000"] }),
      /loopback/,
    );
  });

  it("fails a pull whose stream ends without an image", async () => {
    handle = (_request, response) => {
      response.writeHead(200);
      response.end('{"stream":"Trying…"}\n');
    };
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      await assert.rejects(runtime.pullImage("r/x@sha256:00", {}), /pull failed \(failed/);
    } finally {
      runtime.close();
    }
  });

  it("redacts and bounds error messages, and maps 404 to absent", async () => {
    handle = (request, response) => {
      if (/\/containers\/gone(?:\/|\?|$)/.test(request.url ?? "")) {
        json(response, 404, {
          cause: "no such container",
          message: "no such container",
          response: 404,
        });
        return;
      }
      json(response, 500, {
        cause: "x",
        message: `boom: password=hunter2hunter2 Authorization: Bearer abcdefghijkl ${"z".repeat(5000)}`,
        response: 500,
      });
    };
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      assert.equal(await runtime.inspectContainer("gone"), undefined);
      assert.equal(await runtime.removeContainer("gone"), false);
      await assert.rejects(runtime.startContainer("bad"), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.equal(error.kind, "failed");
        assert.ok(!error.stderr.includes("hunter2hunter2"));
        assert.ok(!error.stderr.includes("abcdefghijkl"));
        assert.ok(Buffer.byteLength(error.stderr) < 2048 + 64);
        return true;
      });
      // Image lookups treat a refusal as "not here", as the CLI driver does.
      assert.equal(await runtime.inspectImage("r/x@sha256:00"), undefined);
    } finally {
      runtime.close();
    }
  });

  it("reports a removal the answer lists as failed", async () => {
    handle = (_request, response) =>
      json(response, 200, [{ Id: "abc", Err: "container is paused and cannot be removed" }]);
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      await assert.rejects(runtime.removeContainer("x"), /rm failed \(failed/);
    } finally {
      runtime.close();
    }
  });

  it("times out a request that gets no answer", async () => {
    handle = () => undefined;
    const runtime = createPodmanApiRuntime({ socketPath, commandTimeoutMs: 200 });
    try {
      await assert.rejects(runtime.inspectContainer("slow"), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.equal(error.kind, "timeout");
        return true;
      });
    } finally {
      runtime.close();
      server.closeAllConnections();
    }
  });

  it("says the API is unreachable when nothing listens (so the CLI can take over)", async () => {
    const runtime = createPodmanApiRuntime({ socketPath: join(dir, "nothing.sock") });
    try {
      await assert.rejects(runtime.inspectContainer("x"), PodmanApiUnreachableError);
      const probe = await runtime.probe();
      assert.equal(probe.answering, false);
      assert.match(probe.problem ?? "", /not reachable \(ENOENT\)/);
    } finally {
      runtime.close();
    }
  });

  it("sends an empty credential map when the auth file has no entry for the registry", async () => {
    handle = (_request, response) => json(response, 200, { id: "abc", images: ["abc"] });
    const runtime = createPodmanApiRuntime({ socketPath });
    const authDir = join(dir, "auth-other");
    await mkdir(authDir, { recursive: true });
    await writeFile(
      join(authDir, AUTH_FILE_NAME),
      JSON.stringify({ auths: { "other.example:5000": { auth: "dTpw" } } }),
    );
    try {
      await runtime.pullImage(`registry.example:5000/apps/x@sha256:${"c".repeat(64)}`, {
        authDir,
      });
      const header = String(seen.at(-1)?.headers["x-registry-auth"]);
      // podman writes `{}` to an empty auth file for the pull: `podman pull --authfile` with a file
      // lacking the entry, never the service's own `podman login` store.
      assert.deepEqual(JSON.parse(Buffer.from(header, "base64url").toString()), {});
    } finally {
      runtime.close();
    }
  });

  it("fails as unreachable when the service cannot be made ready (so the CLI can take over)", async () => {
    handle = (_request, response) => json(response, 200, {});
    const runtime = createPodmanApiRuntime({
      socketPath,
      ensureService: () => Promise.reject(new Error("podman system service exited with status 1")),
    });
    try {
      await assert.rejects(runtime.startContainer("x"), (error: unknown) => {
        assert.ok(error instanceof PodmanApiUnreachableError, String(error));
        assert.match(error.stderr, /service is not running: podman system service exited/);
        return true;
      });
    } finally {
      runtime.close();
    }
  });

  it("fails a later request of an operation as failed, never as unreachable", async () => {
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header.writeUInt8(stream, 0);
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    handle = (request, response) => {
      const url = request.url ?? "";
      if (url.endsWith("/exec")) json(response, 201, { Id: "e1" });
      else if (url.endsWith("/start")) {
        response.writeHead(200);
        response.end(frame(1, "ran\n"));
      } else if (url.includes("/containers/json")) json(response, 200, [{ Id: "c1" }]);
      else json(response, 200, {});
    };
    // The service dies after the operation's first request(s) went through.
    let allowed = 0;
    const runtime = createPodmanApiRuntime({
      socketPath,
      ensureService: () =>
        allowed-- > 0 ? Promise.resolve() : Promise.reject(new Error("service died")),
    });
    const failedNotUnreachable = (error: unknown) => {
      assert.ok(error instanceof RuntimeCommandError);
      assert.ok(!(error instanceof PodmanApiUnreachableError), "the CLI would do it again");
      assert.equal(error.kind, "failed");
      return true;
    };
    try {
      // exec: create and start went through (the command ran); the exit-code poll did not.
      allowed = 2;
      await assert.rejects(runtime.exec("c1", ["/bin/true"], 5_000), failedNotUnreachable);
      // exec: create went through, start did not.
      allowed = 1;
      await assert.rejects(runtime.exec("c1", ["/bin/true"], 5_000), failedNotUnreachable);
      // list: the list went through, the inspect of its container did not.
      allowed = 1;
      await assert.rejects(runtime.listContainers({ a: "b" }), failedNotUnreachable);
      // The first request of each is still "unreachable": nothing was done.
      allowed = 0;
      await assert.rejects(runtime.exec("c1", ["/bin/true"], 5_000), PodmanApiUnreachableError);
      await assert.rejects(runtime.listContainers({ a: "b" }), PodmanApiUnreachableError);
    } finally {
      runtime.close();
    }
  });

  it("leaves out only containers that vanished between the list and their inspect", async () => {
    const labels = { "dev.gpuaas.managed": "true" };
    const inspect = (id: string) => ({
      Id: id,
      Name: `n-${id}`,
      Config: { Labels: labels, Image: "img" },
      State: { Running: true, Status: "running" },
    });
    let broken = 0;
    handle = (request, response) => {
      const url = request.url ?? "";
      if (url.includes("/containers/json?")) {
        json(response, 200, [{ Id: "kept" }, { Id: "gone" }, { Id: "busy" }]);
      } else if (url.includes("/containers/gone/")) {
        json(response, 404, { cause: "no such container", message: "no such container" });
      } else if (url.includes("/containers/busy/") && broken > 0) {
        json(response, 500, { cause: "x", message: "database is locked" });
      } else {
        json(response, 200, inspect(url.includes("/busy/") ? "busy" : "kept"));
      }
    };
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      const listed = await runtime.listContainers(labels);
      assert.deepEqual(listed.map((item) => item.id).sort(), ["busy", "kept"]);
      broken = 1;
      await assert.rejects(runtime.listContainers(labels), (error: unknown) => {
        assert.ok(error instanceof RuntimeCommandError);
        assert.equal(error.kind, "failed");
        assert.match(error.stderr, /database is locked/);
        return true;
      });
    } finally {
      runtime.close();
    }
  });

  it("bounds the whole exec by its timeout, the exit-code poll included", async () => {
    handle = (request, response) => {
      const url = request.url ?? "";
      if (url.endsWith("/exec")) json(response, 201, { Id: "e2" });
      else if (url.endsWith("/start")) {
        response.writeHead(200);
        response.end();
      }
      // The exit-code poll gets no answer.
    };
    const runtime = createPodmanApiRuntime({ socketPath, commandTimeoutMs: 10_000 });
    const started = Date.now();
    try {
      const result = await runtime.exec("c1", ["/bin/true"], 400);
      assert.equal(result.timed_out, true);
      assert.equal(result.exit_code, null);
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    } finally {
      runtime.close();
      server.closeAllConnections();
    }
  });

  it("maps version and info to the probe as the CLI's JSON is mapped", async () => {
    handle = (request, response) => {
      if (request.url?.endsWith("/version")) json(response, 200, { Version: "4.3.1" });
      else
        json(response, 200, {
          host: {
            arch: "amd64",
            cgroupVersion: "v1",
            ociRuntime: { name: "runc" },
            security: { rootless: false },
          },
          store: { graphRoot: "/var/lib/containers/storage" },
          version: { Version: "4.3.1" },
        });
    };
    const runtime = createPodmanApiRuntime({ socketPath });
    try {
      assert.deepEqual(await runtime.probe(), {
        name: "podman",
        binary: "podman",
        client_version: "4.3.1",
        server_version: "4.3.1",
        rootless: false,
        oci_runtime: "runc",
        cgroup_version: "v1",
        storage_root: "/var/lib/containers/storage",
        architecture: "amd64",
        present: true,
        answering: true,
      });
    } finally {
      runtime.close();
    }
  });
});
