import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { renderAuthConfig } from "./registry-auth.js";
import { renderRegistryAuthHeader, toPaddedBase64Url } from "./render-registry-auth-header.js";

/** Decodes as Go's base64.URLEncoding does: URL-safe alphabet, padding required. */
function decodeGoUrlEncoding(value: string): string {
  assert.match(value, /^[A-Za-z0-9_-]*={0,2}$/);
  assert.equal(value.length % 4, 0, "padded to a multiple of 4");
  return Buffer.from(value.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
}

describe("renderRegistryAuthHeader", () => {
  it("turns the launch's auth file into podman's X-Registry-Auth JSON", () => {
    const file = renderAuthConfig(
      { registry: "127.0.0.1:5055", token: "gpuaas_pull_s3cr3t" },
      "gpuaas",
    );
    const header = renderRegistryAuthHeader(file, "127.0.0.1:5055");
    assert.ok(header !== undefined);
    assert.deepEqual(JSON.parse(decodeGoUrlEncoding(header)), {
      username: "gpuaas",
      password: "gpuaas_pull_s3cr3t",
      serveraddress: "127.0.0.1:5055",
    });
    assert.ok(!header.includes("gpuaas_pull_s3cr3t"));
  });

  it("keeps colons in the password (only the first separates the user)", () => {
    const file = renderAuthConfig({ registry: "r:1", token: "a:b:c", username: "u" }, "x");
    const header = renderRegistryAuthHeader(file, "r:1") ?? "";
    assert.equal(JSON.parse(decodeGoUrlEncoding(header)).password, "a:b:c");
  });

  it("gives nothing for another registry, a malformed file or an entry without user", () => {
    const file = renderAuthConfig({ registry: "127.0.0.1:5055", token: "t" }, "gpuaas");
    assert.equal(renderRegistryAuthHeader(file, "127.0.0.1:5056"), undefined);
    assert.equal(renderRegistryAuthHeader("{not json", "r"), undefined);
    assert.equal(renderRegistryAuthHeader('{"auths":{"r":{"auth":""}}}', "r"), undefined);
    const noUser = Buffer.from(":pw").toString("base64");
    assert.equal(renderRegistryAuthHeader(`{"auths":{"r":{"auth":"${noUser}"}}}`, "r"), undefined);
    assert.equal(renderRegistryAuthHeader("null", "r"), undefined);
  });

  it("round-trips any credential through Go's padded URL-safe base64", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((user) => !user.includes(":")),
        fc.string({ maxLength: 80 }),
        (user, token) => {
          const file = renderAuthConfig({ registry: "127.0.0.1:5055", token, username: user }, "x");
          const header = renderRegistryAuthHeader(file, "127.0.0.1:5055") ?? "";
          const decoded = JSON.parse(decodeGoUrlEncoding(header));
          assert.equal(decoded.username, user);
          assert.equal(decoded.password, token);
        },
      ),
    );
    assert.equal(toPaddedBase64Url("\u00fb\u00ff"), "w7vDvw==");
    assert.equal(toPaddedBase64Url("??>"), "Pz8-");
  });
});
