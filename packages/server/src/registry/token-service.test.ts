import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { decodeProtectedHeader, importX509, jwtVerify } from "jose";
import { loadOrCreateSigningMaterial } from "./signing-material.js";
import {
  createSelfTokenProvider,
  createTokenService,
  grantPullAccess,
  parseScope,
  type TokenService,
} from "./token-service.js";

describe("registry token service", () => {
  let dir: string;
  let service: TokenService;
  const now = new Date("2026-04-14T12:00:00Z");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gpuaas-token-unit-"));
    service = createTokenService({
      issuer: "gpuaas-control-plane",
      service: "gpuaas-registry",
      keyFile: join(dir, "signer", "key.pem"),
      certFile: join(dir, "signer", "cert.pem"),
      ttlSeconds: 300,
      now: () => now,
    });
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("mints RS256 JWTs with an x5c header the certificate verifies, and the spec's claims", async () => {
    const minted = await service.mint({
      subject: "task-1",
      access: [{ type: "repository", name: "gpuaas/app", actions: ["pull"] }],
    });
    assert.equal(minted.token, minted.access_token);
    assert.equal(minted.expires_in, 300);
    assert.equal(minted.issued_at, now.toISOString());
    const header = decodeProtectedHeader(minted.token);
    assert.equal(header.alg, "RS256");
    const pem = await service.certificatePem();
    const der = new X509Certificate(pem).raw.toString("base64");
    assert.deepEqual(header.x5c, [der]);
    const { payload } = await jwtVerify(minted.token, await importX509(pem, "RS256"), {
      issuer: "gpuaas-control-plane",
      audience: "gpuaas-registry",
      currentDate: now,
    });
    assert.equal(payload.sub, "task-1");
    assert.equal(payload.aud, "gpuaas-registry");
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
    assert.equal(payload.nbf, payload.iat);
    assert.deepEqual(payload.access, [
      { type: "repository", name: "gpuaas/app", actions: ["pull"] },
    ]);
    const key = await stat(join(dir, "signer", "key.pem"));
    assert.equal(key.mode & 0o777, 0o600, "the signing key is private");
  });

  it("reuses the key and certificate on disk, and refuses a certificate of another key", async () => {
    const paths = {
      keyFile: join(dir, "signer", "key.pem"),
      certFile: join(dir, "signer", "cert.pem"),
    };
    const again = await loadOrCreateSigningMaterial({ ...paths, commonName: "x", now });
    assert.equal(again.created, false);
    assert.equal(again.certificatePem, await readFile(paths.certFile, "utf8"));
    const other = await loadOrCreateSigningMaterial({
      keyFile: join(dir, "other", "key.pem"),
      certFile: join(dir, "other", "cert.pem"),
      commonName: "other",
      now,
    });
    await writeFile(paths.certFile, other.certificatePem);
    await assert.rejects(
      loadOrCreateSigningMaterial({ ...paths, commonName: "x", now }),
      /does not belong to the key/,
    );
    await writeFile(paths.certFile, again.certificatePem);
  });

  it("parses scopes and grants pull on the one repository only", () => {
    assert.deepEqual(parseScope("repository:gpuaas/app:pull,push"), {
      type: "repository",
      name: "gpuaas/app",
      actions: ["pull", "push"],
    });
    assert.equal(parseScope("registry:catalog"), undefined);
    assert.equal(parseScope("repository:a:b:pull"), undefined);
    const want = (scope: string) => [parseScope(scope)].filter((item) => item !== undefined);
    assert.deepEqual(grantPullAccess(want("repository:gpuaas/app:pull,push"), "gpuaas/app"), [
      { type: "repository", name: "gpuaas/app", actions: ["pull"] },
    ]);
    assert.deepEqual(grantPullAccess(want("repository:gpuaas/app:*"), "gpuaas/app").length, 1);
    assert.deepEqual(grantPullAccess(want("repository:gpuaas/other:pull"), "gpuaas/app"), []);
    assert.deepEqual(grantPullAccess(want("repository:gpuaas/app:push"), "gpuaas/app"), []);
    assert.deepEqual(grantPullAccess(want("registry:catalog:*"), "gpuaas/app"), []);
  });

  it("never grants more than pull on the allowed repository, whatever is asked", () => {
    const name = fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/);
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 60 })),
        fc.array(name),
        name,
        (junk, names, allowed) => {
          const requested = [
            ...junk.map(parseScope),
            ...names.map((item) => parseScope(`repository:${item}:pull,push,delete`)),
          ].filter((item) => item !== undefined);
          for (const entry of grantPullAccess(requested, allowed)) {
            assert.equal(entry.name, allowed);
            assert.deepEqual(entry.actions, ["pull"]);
          }
        },
      ),
    );
  });

  it("answers only its own registry's challenges when the control plane pulls for itself", async () => {
    const provider = createSelfTokenProvider(service);
    const token = await provider({
      realm: "http://127.0.0.1:1/api/v1/registry/token",
      service: "gpuaas-registry",
      scope: "repository:gpuaas/app:pull,push",
    });
    assert.ok(token !== undefined);
    const { payload } = await jwtVerify(
      token,
      await importX509(await service.certificatePem(), "RS256"),
      {
        currentDate: now,
      },
    );
    assert.deepEqual(payload.access, [
      { type: "repository", name: "gpuaas/app", actions: ["pull"] },
    ]);
    assert.equal(payload.sub, "gpuaas-control-plane");
    assert.equal(
      await provider({
        realm: "http://elsewhere/token",
        service: "another",
        scope: "repository:a:pull",
      }),
      undefined,
    );
    assert.equal(
      await provider({ realm: "http://x/token", service: "gpuaas-registry" }),
      undefined,
    );
  });
});
