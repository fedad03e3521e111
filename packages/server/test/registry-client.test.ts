// The registry client against small loopback HTTP servers that behave as registries do not always:
// no Docker-Content-Digest, a bearer challenge, a hang, a server error. The real registry is
// exercised in artifact-routes.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, describe, it } from "node:test";
import {
  createRegistryClient,
  parseBearerChallenge,
  RegistryUnreachableError,
} from "../src/registry/registry-client.js";
import { verifyManifest } from "../src/registry/verify-manifest.js";

const OCI = "application/vnd.oci.image.manifest.v1+json";
const body = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: OCI, config: {}, layers: [] }),
);
const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;

const servers: Server[] = [];
async function serve(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return `http://127.0.0.1:${address.port}`;
}

describe("registry client", () => {
  after(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("hashes the manifest body when the registry sends no Docker-Content-Digest", async () => {
    const seen: string[] = [];
    const url = await serve((request, response) => {
      seen.push(`${request.method} ${request.url} ${request.headers.accept}`);
      response.writeHead(200, { "content-type": OCI, "content-length": body.length });
      response.end(request.method === "GET" ? body : undefined);
    });
    const client = createRegistryClient({ baseUrl: url });
    const result = await verifyManifest(client, { name: "team/app", digest, media_type: OCI });
    assert.equal(result.ok, true);
    assert.ok(result.ok && result.descriptor.digest_source === "body");
    assert.equal(seen.length, 2);
    assert.match(
      seen[0] ?? "",
      /^HEAD \/v2\/team\/app\/manifests\/sha256%3A[0-9a-f]{64} .*application\/vnd\.oci\.image\.index\.v1\+json/,
    );
    assert.match(seen[1] ?? "", /^GET /);
    const wrong = await verifyManifest(client, {
      name: "team/app",
      digest: `sha256:${"a".repeat(64)}`,
      media_type: OCI,
    });
    assert.equal(wrong.ok, false);
    assert.ok(!wrong.ok && wrong.reason === "digest_mismatch");
  });

  it("answers a bearer challenge through the token hook and retries once", async () => {
    const url = await serve((request, response) => {
      if (request.headers.authorization !== "Bearer good-token") {
        response.writeHead(401, {
          "www-authenticate":
            'Bearer realm="http://127.0.0.1:1/token",service="registry",scope="repository:team/app:pull"',
        });
        response.end();
        return;
      }
      response.writeHead(200, { "content-type": OCI, "docker-content-digest": digest });
      response.end();
    });
    const challenges: unknown[] = [];
    const withToken = createRegistryClient({
      baseUrl: url,
      getToken: async (challenge) => {
        challenges.push(challenge);
        return "good-token";
      },
    });
    const ok = await verifyManifest(withToken, { name: "team/app", digest, media_type: OCI });
    assert.equal(ok.ok, true);
    assert.deepEqual(challenges, [
      { realm: "http://127.0.0.1:1/token", service: "registry", scope: "repository:team/app:pull" },
    ]);
    const without = await verifyManifest(createRegistryClient({ baseUrl: url }), {
      name: "team/app",
      digest,
      media_type: OCI,
    });
    assert.ok(!without.ok && without.reason === "registry_denied");
  });

  it("gives up on a registry that does not answer within the timeout", async () => {
    const url = await serve(() => {
      // Never answers.
    });
    const client = createRegistryClient({ baseUrl: url, timeoutMs: 200 });
    const started = Date.now();
    await assert.rejects(client.resolveManifest("team/app", digest), (error: unknown) => {
      assert.ok(error instanceof RegistryUnreachableError);
      assert.equal(error.reason, "timeout");
      return true;
    });
    assert.ok(Date.now() - started < 2_000);
  });

  it("treats a server error as unreachable and a refusal as a failed check", async () => {
    const url = await serve((request, response) => {
      response.writeHead(request.url?.includes("broken") ? 503 : 403);
      response.end();
    });
    const client = createRegistryClient({ baseUrl: url });
    await assert.rejects(client.resolveManifest("broken", digest), (error: unknown) => {
      assert.ok(error instanceof RegistryUnreachableError);
      assert.equal(error.reason, "server_error");
      return true;
    });
    const denied = await verifyManifest(client, { name: "team/app", digest, media_type: OCI });
    assert.ok(!denied.ok && denied.reason === "registry_denied");
  });

  it("refuses a manifest body larger than the limit", async () => {
    const url = await serve((request, response) => {
      response.writeHead(200, { "content-type": OCI });
      response.end(request.method === "HEAD" ? undefined : Buffer.alloc(5 * 1024 * 1024, 32));
    });
    await assert.rejects(
      createRegistryClient({ baseUrl: url }).resolveManifest("team/app", digest),
      (error: unknown) => {
        assert.ok(error instanceof RegistryUnreachableError);
        assert.equal(error.reason, "body_too_large");
        return true;
      },
    );
  });

  it("parses bearer challenges and ignores other schemes", () => {
    assert.deepEqual(
      parseBearerChallenge(
        'Bearer realm="https://auth/token",service="reg",scope="repository:a/b:pull",error="insufficient_scope"',
      ),
      {
        realm: "https://auth/token",
        service: "reg",
        scope: "repository:a/b:pull",
        error: "insufficient_scope",
      },
    );
    assert.equal(parseBearerChallenge('Basic realm="x"'), undefined);
    assert.equal(parseBearerChallenge("Bearer service=x"), undefined);
    assert.equal(parseBearerChallenge(null), undefined);
  });
});
