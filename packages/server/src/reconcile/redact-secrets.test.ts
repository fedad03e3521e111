import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { REDACTED, redactJson, redactText } from "./redact-secrets.js";

const PULL = `gpuaas_pull_${randomBytes(32).toString("base64url")}`;
const NODE = `gpuaas_node_${randomBytes(32).toString("base64url")}`;
const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJncHVhYXMiLCJzdWIiOiJ0YXNrIn0.SmFsZV9zaWduYXR1cmVfYnl0ZXM";

describe("redactText", () => {
  it("removes platform secrets, JWTs, bearer and basic credentials, URL passwords and key=value secrets", () => {
    const cases: readonly [string, string][] = [
      [`pulled with ${PULL} ok`, `pulled with ${REDACTED} ok`],
      [`node ${NODE}`, `node ${REDACTED}`],
      [`token ${JWT}`, `token ${REDACTED}`],
      ["Authorization: Bearer abcdef123456", `Authorization: Bearer ${REDACTED}`],
      ["Authorization: Basic dXNlcjpwYXNzd29yZA==", `Authorization: Basic ${REDACTED}`],
      [
        "GET http://task-1:s3cr3tpass@127.0.0.1:5055/v2/",
        `GET http://${REDACTED}@127.0.0.1:5055/v2/`,
      ],
      ["password=hunter22 next", `password=${REDACTED} next`],
      ['{"api_key": "abc123xyz"}', `{"api_key": "${REDACTED}"}`],
      ["podman login --password s3cret", `podman login --password ${REDACTED}`],
      ["AWS AKIAABCDEFGHIJKLMNOP used", `AWS ${REDACTED} used`],
      ["-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----", REDACTED],
    ];
    for (const [input, expected] of cases) assert.equal(redactText(input), expected, input);
  });

  it("leaves ordinary log lines alone", () => {
    for (const line of [
      "[I 2026-04-14 12:00:00.000 ServerApp] Jupyter Server 2.14 is running at:",
      "Successfully installed numpy-2.4.4 pandas-2.2.3",
      "GET /lab 200 3.2ms",
      "tokenizer loaded in 1.2 s",
    ]) {
      assert.equal(redactText(line), line);
    }
  });

  it("replaces known secrets wherever they appear, whatever their shape", () => {
    assert.equal(redactText("x-secret-value-x", ["secret-value"]), `x-${REDACTED}-x`);
    assert.equal(redactText("short", ["sho"]), "short", "too short to be a secret");
  });

  it("removes any pull secret or JWT embedded in arbitrary text, and is idempotent", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.constantFrom(PULL, NODE, JWT),
        (before, after, secret) => {
          const once = redactText(`${before} ${secret} ${after}`);
          assert.ok(!once.includes(secret));
          assert.equal(redactText(once), once);
        },
      ),
    );
  });
});

describe("redactJson", () => {
  it("redacts strings deeply and the whole value of secret-named keys", () => {
    const input = {
      container_id: "abc",
      ports: [{ host_port: 8888 }],
      pull_credential: { username: "task-1", password: PULL },
      nested: { lines: [`login ${PULL}`, "fine"], token: "anything-at-all", ok: true },
      password: null,
    };
    assert.deepEqual(redactJson(input), {
      container_id: "abc",
      ports: [{ host_port: 8888 }],
      pull_credential: REDACTED,
      nested: { lines: [`login ${REDACTED}`, "fine"], token: REDACTED, ok: true },
      password: null,
    });
  });

  it("never throws and never grows a value's shape on arbitrary JSON", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const redacted = redactJson(value);
        assert.equal(typeof redacted, typeof value);
        assert.equal(Array.isArray(redacted), Array.isArray(value));
      }),
    );
  });
});
