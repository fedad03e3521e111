import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isLocalPath, readCookie, toAppSessionCookie } from "./forward-auth.js";
import { toOwnerSubject, toShortId } from "./record-instance-routes.js";

describe("isLocalPath (the rd of the sign-in round trip)", () => {
  it("accepts paths on the same host and refuses everything a browser could resolve elsewhere", () => {
    for (const path of ["/", "/lab", "/lab/tree/a.ipynb?x=1&y=%2F", "/a//b", "/?next=//evil"]) {
      assert.ok(isLocalPath(path), path);
    }
    for (const path of [
      "",
      "lab",
      "//evil.example/",
      "/\\evil.example",
      "/\\/evil.example",
      "https://evil.example/",
      "/lab\n/x",
      "/a b",
      "javascript:alert(1)",
      `/${"a".repeat(4096)}`,
      "/\u2603",
    ]) {
      assert.ok(!isLocalPath(path), JSON.stringify(path));
    }
  });

  it("never accepts a value a URL parser resolves to another host (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64, unit: "binary" }), (value) => {
        if (!isLocalPath(value)) return true;
        return new URL(value, "https://route.example.test").host === "route.example.test";
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.constantFrom("/", "//", "/\\", "\\\\", "\\/"), fc.webUrl(), (prefix, url) => {
        const candidate = `${prefix}${url.replace(/^https?:\/\//, "")}`;
        return (
          !isLocalPath(candidate) ||
          new URL(candidate, "https://route.example.test").host === "route.example.test"
        );
      }),
    );
  });
});

describe("cookies of browser routes", () => {
  it("reads one cookie out of a header with others around it", () => {
    const header = "_xsrf=abc; __Host-gpuaas_app_session=gpuaas_aps_x; gpuaas_session=console";
    assert.equal(readCookie(header, "__Host-gpuaas_app_session"), "gpuaas_aps_x");
    assert.equal(readCookie(header, "gpuaas_session"), "console");
    assert.equal(readCookie(header, "missing"), undefined);
    assert.equal(readCookie(undefined, "x"), undefined);
  });

  it("sets the app session host-only, Secure, HttpOnly, SameSite=Lax, for the whole host", () => {
    const cookie = toAppSessionCookie("gpuaas_aps_t", 60);
    assert.equal(
      cookie,
      "__Host-gpuaas_app_session=gpuaas_aps_t; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax",
    );
    assert.doesNotMatch(cookie, /Domain/i);
  });
});

describe("instance identity in routes", () => {
  it("gives each instance a 12-character DNS-label-safe short id", () => {
    assert.equal(toShortId("1A2B3C4D-5E6F-4000-8000-000000000000"), "1a2b3c4d5e6f");
    assert.match(toShortId("x"), /^[0-9a-f]{12}$/);
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (id) => /^[a-z0-9]{1,12}$/.test(toShortId(id))),
    );
  });

  it("names the owner by user id, or as a service account", () => {
    assert.equal(toOwnerSubject("user:u-1"), "u-1");
    assert.equal(toOwnerSubject("service_account:s-1"), "service_account:s-1");
    assert.equal(toOwnerSubject("system"), "");
  });
});
