// Artifact routes against a real CNCF distribution registry on loopback: registration rules, the
// OCI verify (HEAD manifest by digest), the lifecycle, and an unreachable registry.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { listAudit } from "../src/index.js";
import { type Harness, startHarness } from "./http-harness.js";
import {
  type PushedImage,
  pushImage,
  type RegistryFixture,
  startRegistry,
} from "./registry-fixture.js";

const manifest = parse(
  await readFile(new URL("../../../profiles/jupyterlab.yaml", import.meta.url), "utf8"),
);
const VERSIONS = "/api/v1/apps/catalog/jupyterlab/versions";
const ARTIFACTS = `${VERSIONS}/1.0.0/artifacts`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
const MISSING_DIGEST = `sha256:${"0".repeat(64)}`;

describe("artifact routes on a real registry", () => {
  let registry: RegistryFixture;
  let h: Harness;
  let cpuImage: PushedImage;
  let dockerImage: PushedImage;
  let verifiedId: string;

  before(async () => {
    registry = await startRegistry();
    h = await startHarness({ config: { registry_url: registry.url, log_level: "warn" } });
    const created = await h.app.inject({
      method: "POST",
      url: VERSIONS,
      headers: h.auth("operator"),
      payload: { version: "1.0.0", manifest },
    });
    assert.equal(created.statusCode, 201, created.body);
    cpuImage = await pushImage(registry.url, "jupyterlab/runtime-cpu", { tag: "1.0.0" });
    dockerImage = await pushImage(registry.url, "jupyterlab/runtime-cpu", {
      tag: "docker",
      format: "docker",
      seed: "docker",
    });
  });
  after(async () => {
    await h?.close();
    await registry?.stop();
  });

  const body = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    artifact_name: "jupyterlab/runtime-cpu",
    repository: `${registry.host}/jupyterlab/runtime-cpu`,
    digest: cpuImage.digest,
    media_type: OCI_MANIFEST,
    platform: { os: "linux", architecture: "amd64" },
    accelerator: { vendor: "none" },
    ...overrides,
  });
  const register = (
    payload: Record<string, unknown>,
    role: Parameters<Harness["auth"]>[0] = "operator",
  ) => h.app.inject({ method: "POST", url: ARTIFACTS, headers: h.auth(role), payload });
  const verify = (id: string) =>
    h.app.inject({
      method: "POST",
      url: `/api/v1/artifacts/${id}/verify`,
      headers: h.auth("operator"),
    });
  const transition = (id: string, to: string) =>
    h.app.inject({
      method: "POST",
      url: `/api/v1/artifacts/${id}/transitions`,
      headers: h.auth("operator"),
      payload: { to },
    });

  it("registers an artifact by digest (pending) and verifies it against the registry", async () => {
    const created = await register(body());
    assert.equal(created.statusCode, 201, created.body);
    const artifact = created.json();
    assert.equal(artifact.state, "pending");
    assert.equal(artifact.repository, `${registry.host}/jupyterlab/runtime-cpu`);
    assert.equal(artifact.digest, cpuImage.digest);
    assert.equal(artifact.verified_at, null);
    const verified = await verify(artifact.id);
    assert.equal(verified.statusCode, 200, verified.body);
    assert.equal(verified.json().state, "verified");
    assert.ok(verified.json().verified_at);
    // Verifying again re-checks the registry and changes nothing.
    const again = await verify(artifact.id);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().state, "verified");
    const audit = await listAudit(h.store.db);
    assert.ok(
      audit.items.some(
        (entry) =>
          entry.action === "artifact.verified" && entry.target === `artifact:${artifact.id}`,
      ),
    );
    verifiedId = artifact.id;
  });

  it("refuses the same repository and digest twice", async () => {
    const duplicate = await register(body());
    assert.equal(duplicate.statusCode, 409);
    assert.equal(duplicate.json().code, "store.conflict");
  });

  it("fails verification for a digest the registry does not have", async () => {
    const created = await register(body({ digest: MISSING_DIGEST }));
    assert.equal(created.statusCode, 201, created.body);
    const result = await verify(created.json().id);
    assert.equal(result.statusCode, 422);
    assert.equal(result.json().code, "artifact.verify_failed");
    assert.equal(result.json().details.reason, "manifest_unknown");
    const after = await h.app.inject({
      method: "GET",
      url: `/api/v1/artifacts/${created.json().id}`,
      headers: h.auth("operator"),
    });
    assert.equal(after.json().state, "pending");
  });

  it("fails verification when the registry's media type is not the recorded one", async () => {
    const created = await register(body({ digest: dockerImage.digest, media_type: OCI_MANIFEST }));
    assert.equal(created.statusCode, 201, created.body);
    const result = await verify(created.json().id);
    assert.equal(result.statusCode, 422);
    assert.equal(result.json().code, "artifact.verify_failed");
    assert.equal(result.json().details.reason, "media_type_mismatch");
    assert.equal(result.json().details.expected_media_type, OCI_MANIFEST);
    assert.equal(result.json().details.actual_media_type, DOCKER_MANIFEST);
  });

  it("never accepts a tag as the deployable reference", async () => {
    const tagged = await register(
      body({ repository: `${registry.host}/jupyterlab/runtime-cpu:1.0.0` }),
    );
    assert.equal(tagged.statusCode, 422);
    assert.equal(tagged.json().code, "artifact.digest_required");
    assert.equal(tagged.json().issues[0].pointer, "/body/repository");
    const tagAsDigest = await register(body({ digest: "latest" }));
    assert.equal(tagAsDigest.statusCode, 422);
    assert.equal(tagAsDigest.json().code, "artifact.digest_required");
    assert.match(tagAsDigest.json().message, /tag/);
    const embedded = await register(
      body({ repository: `${registry.host}/jupyterlab/runtime-cpu@${cpuImage.digest}` }),
    );
    assert.equal(embedded.json().code, "artifact.digest_required");
    const upper = await register(
      body({ digest: cpuImage.digest.toUpperCase().replace("SHA256", "sha256") }),
    );
    assert.equal(upper.json().code, "artifact.digest_required");
  });

  it("refuses a registry other than the platform registry", async () => {
    for (const repository of [
      "registry.example.com/jupyterlab/runtime-cpu",
      "docker.io/jupyterlab/runtime-cpu",
      "jupyterlab/runtime-cpu",
      "127.0.0.1:1/jupyterlab/runtime-cpu",
    ]) {
      const response = await register(body({ repository }));
      assert.equal(response.statusCode, 422, repository);
      assert.equal(response.json().code, "artifact.foreign_registry", repository);
    }
  });

  it("reports every registration problem at once, the reference first", async () => {
    const response = await register(
      body({
        repository: "docker.io/library/ubuntu",
        digest: "latest",
        artifact_name: "nope/nope",
      }),
    );
    assert.equal(response.statusCode, 422);
    assert.equal(response.json().code, "artifact.digest_required");
    const codes = response.json().issues.map((issue: { code: string }) => issue.code);
    assert.deepEqual(codes, [
      "artifact.digest_required",
      "artifact.foreign_registry",
      "artifact.unknown_variant",
    ]);
  });

  it("refuses metadata that contradicts the profile's variant", async () => {
    const response = await register(
      body({
        accelerator: { vendor: "nvidia", family: "hopper" },
        platform: { os: "linux", architecture: "arm64" },
        artifact_name: "jupyterlab/runtime-nvidia-h200",
      }),
    );
    assert.equal(response.statusCode, 422);
    assert.equal(response.json().code, "artifact.variant_mismatch");
    assert.deepEqual(
      response.json().issues.map((issue: { pointer: string }) => issue.pointer),
      ["/body/platform/architecture"],
    );
    const sku = await register(
      body({
        artifact_name: "jupyterlab/runtime-nvidia-h200",
        accelerator: { vendor: "nvidia", sku: "a100" },
      }),
    );
    assert.equal(sku.json().code, "artifact.variant_mismatch");
  });

  it("answers bad bodies and ids with 4xx codes", async () => {
    const unknownField = await register({ ...body(), tag: "latest" });
    assert.equal(unknownField.statusCode, 400);
    assert.equal(unknownField.json().code, "request.invalid");
    const badMedia = await register(body({ media_type: "text/plain" }));
    assert.equal(badMedia.statusCode, 400);
    const noVersion = await h.app.inject({
      method: "POST",
      url: `${VERSIONS}/9.9.9/artifacts`,
      headers: h.auth("operator"),
      payload: body(),
    });
    assert.equal(noVersion.statusCode, 404);
    const noArtifact = await verify("does-not-exist");
    assert.equal(noArtifact.statusCode, 404);
    assert.equal(noArtifact.json().code, "resource.not_found");
    const badId = await verify("bad%20id");
    assert.equal(badId.statusCode, 400);
    const slash = await register(body({ repository: `${registry.host}/jupyterlab/runtime-cpu/` }));
    assert.equal(slash.statusCode, 422);
    assert.equal(slash.json().code, "artifact.invalid_repository");
  });

  it("lets operators only register and verify; others see launchable artifacts of published versions", async () => {
    const member = await register(body({ digest: `sha256:${"1".repeat(64)}` }), "project_admin");
    assert.equal(member.statusCode, 403);
    assert.equal(member.json().code, "auth.forbidden");
    const verifyAsMember = await h.app.inject({
      method: "POST",
      url: `/api/v1/artifacts/${verifiedId}/verify`,
      headers: h.auth("project_member"),
    });
    assert.equal(verifyAsMember.statusCode, 403);
    const unpublished = await h.app.inject({
      method: "GET",
      url: ARTIFACTS,
      headers: h.auth("project_viewer"),
    });
    assert.equal(unpublished.statusCode, 404);
    const publish = await h.app.inject({
      method: "POST",
      url: `${VERSIONS}/1.0.0/publication`,
      headers: h.auth("operator"),
      payload: { published: true },
    });
    assert.equal(publish.statusCode, 200, publish.body);
    const visible = await h.app.inject({
      method: "GET",
      url: ARTIFACTS,
      headers: h.auth("project_viewer"),
    });
    assert.equal(visible.statusCode, 200);
    assert.deepEqual(visible.json().items, []);
    const all = await h.app.inject({ method: "GET", url: ARTIFACTS, headers: h.auth("operator") });
    assert.ok(all.json().items.length >= 3);
    const pending = await h.app.inject({
      method: "GET",
      url: `${ARTIFACTS}?state=pending`,
      headers: h.auth("operator"),
    });
    assert.ok(pending.json().items.every((item: { state: string }) => item.state === "pending"));
  });

  it("moves an artifact verified → published → promoted → retired and refuses illegal moves", async () => {
    const pending = await register(
      body({ digest: `sha256:${"3".repeat(64)}`, media_type: DOCKER_MANIFEST }),
    );
    assert.equal(pending.statusCode, 201, pending.body);
    const early = await transition(pending.json().id, "published");
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().code, "artifact.illegal_transition");
    assert.deepEqual(early.json().details, {
      from: "pending",
      to: "published",
      allowed: ["verified", "retired"],
    });
    const toVerified = await transition(verifiedId, "verified");
    assert.equal(toVerified.statusCode, 400, "verified is reached through the registry only");
    for (const to of ["published", "promoted"]) {
      const moved = await transition(verifiedId, to);
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal(moved.json().state, to);
    }
    const visible = await h.app.inject({
      method: "GET",
      url: ARTIFACTS,
      headers: h.auth("project_member"),
    });
    assert.deepEqual(
      visible.json().items.map((item: { id: string }) => item.id),
      [verifiedId],
    );
    const backwards = await transition(verifiedId, "published");
    assert.equal(backwards.statusCode, 409);
    const retired = await transition(verifiedId, "retired");
    assert.equal(retired.json().state, "retired");
    const again = await transition(verifiedId, "promoted");
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, "artifact.illegal_transition");
    const reverify = await verify(verifiedId);
    assert.equal(reverify.statusCode, 409);
  });

  it("answers 502 artifact.registry_unreachable when the registry is down", async () => {
    const pending = await register(body({ digest: `sha256:${"2".repeat(64)}` }));
    assert.equal(pending.statusCode, 201, pending.body);
    await registry.stop();
    const result = await verify(pending.json().id);
    assert.equal(result.statusCode, 502);
    assert.equal(result.json().code, "artifact.registry_unreachable");
    assert.equal(result.json().details.reason, "connection_failed");
    const after = await h.app.inject({
      method: "GET",
      url: `/api/v1/artifacts/${pending.json().id}`,
      headers: h.auth("operator"),
    });
    assert.equal(after.json().state, "pending");
  });
});
