import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isTrustedDigest, parseRepository, toRegistryHost } from "./artifact-reference.js";

const HOST = "127.0.0.1:5055";

describe("parseRepository", () => {
  it("splits host and name of a platform registry repository", () => {
    assert.deepEqual(parseRepository("127.0.0.1:5055/jupyterlab/runtime-cpu", HOST), {
      ok: true,
      value: {
        host: HOST,
        name: "jupyterlab/runtime-cpu",
        repository: "127.0.0.1:5055/jupyterlab/runtime-cpu",
      },
    });
    assert.equal(parseRepository("REG.example.com/a/b", "reg.example.com").ok, true);
  });

  it("refuses tags and embedded digests with artifact.digest_required", () => {
    for (const input of [
      "127.0.0.1:5055/app:latest",
      "127.0.0.1:5055/app@sha256:abc",
      "app:1.0",
      "docker.io/library/ubuntu:22.04",
    ]) {
      const result = parseRepository(input, HOST);
      assert.ok(!result.ok && result.problem.code === "artifact.digest_required", input);
    }
  });

  it("refuses other registries and bare names with artifact.foreign_registry", () => {
    for (const input of [
      "docker.io/library/ubuntu",
      "ubuntu",
      "library/ubuntu",
      "127.0.0.1:5056/app",
      "localhost:5055/app",
    ]) {
      const result = parseRepository(input, HOST);
      assert.ok(!result.ok && result.problem.code === "artifact.foreign_registry", input);
    }
  });

  it("refuses malformed names", () => {
    for (const input of [
      "127.0.0.1:5055/App",
      "127.0.0.1:5055/a//b",
      "127.0.0.1:5055/a/",
      "127.0.0.1:5055/-a",
      "127.0.0.1:99999/a",
    ]) {
      const result = parseRepository(input, "127.0.0.1:99999");
      assert.ok(!result.ok, input);
    }
  });

  it("never throws, and what it accepts round-trips and names the platform registry", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (input) => {
        const result = parseRepository(input, HOST);
        if (result.ok) {
          assert.equal(result.value.host, HOST);
          assert.equal(result.value.repository, `${HOST}/${result.value.name}`);
          assert.ok(!/[:@]/.test(result.value.name));
        }
      }),
    );
    fc.assert(
      fc.property(
        fc
          .stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*){0,3}$/)
          .filter((name) => name.length <= 255),
        (name) => {
          const result = parseRepository(`${HOST}/${name}`, HOST);
          assert.ok(result.ok && result.value.name === name);
          const tagged = parseRepository(`${HOST}/${name}:v1`, HOST);
          assert.ok(!tagged.ok && tagged.problem.code === "artifact.digest_required");
        },
      ),
    );
  });
});

describe("toRegistryHost and isTrustedDigest", () => {
  it("drops default ports and lower-cases the host", () => {
    assert.equal(toRegistryHost("http://127.0.0.1:5055"), "127.0.0.1:5055");
    assert.equal(toRegistryHost("https://Registry.Example.com:443/"), "registry.example.com");
    assert.equal(toRegistryHost("http://localhost:80"), "localhost");
  });

  it("trusts sha256 with 64 lower-case hex digits only", () => {
    assert.ok(isTrustedDigest(`sha256:${"a".repeat(64)}`));
    assert.ok(!isTrustedDigest(`sha256:${"A".repeat(64)}`));
    assert.ok(!isTrustedDigest(`sha512:${"a".repeat(128)}`));
    assert.ok(!isTrustedDigest("latest"));
  });
});
