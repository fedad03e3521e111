import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isDnsName, parsePublicHostMap, toInstanceHost } from "./public-host.js";

describe("parsePublicHostMap", () => {
  it("reads the JSON form and the key=host form alike", () => {
    const expected = {
      "jupyterlab.web": "jupyter.apps.example.test",
      "vllm-openai.openai": "*.apps.example.test",
    };
    assert.deepEqual(parsePublicHostMap(JSON.stringify(expected)), { map: expected, problems: [] });
    assert.deepEqual(
      parsePublicHostMap(
        " jupyterlab.web=Jupyter.Apps.Example.Test,\n vllm-openai.openai=*.apps.example.test ",
      ),
      { map: expected, problems: [] },
    );
    assert.deepEqual(parsePublicHostMap(""), { map: {}, problems: [] });
  });

  it("reports every bad entry and keeps the good ones", () => {
    const { map, problems } = parsePublicHostMap(
      JSON.stringify({
        "jupyterlab.web": "jupyter.apps.example.test",
        nodot: "x.example.test",
        "a.b": "https://x.example.test",
        "c.d": 42,
        "e.f": "*.*.example.test",
      }),
    );
    assert.deepEqual(map, { "jupyterlab.web": "jupyter.apps.example.test" });
    assert.deepEqual(
      problems.map((p) => [p.key, p.code]),
      [
        ["nodot", "ingress.host_map.invalid_key"],
        ["a.b", "ingress.host_map.invalid_host"],
        ["c.d", "ingress.host_map.invalid_host"],
        ["e.f", "ingress.host_map.invalid_host"],
      ],
    );
    assert.equal(parsePublicHostMap("{oops").problems[0]?.code, "ingress.host_map.not_parsable");
    assert.equal(parsePublicHostMap("[1]").problems[0]?.code, "ingress.host_map.not_parsable");
    assert.equal(parsePublicHostMap("novalue").problems[0]?.code, "ingress.host_map.not_parsable");
  });

  it("never throws and only keeps DNS names (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const { map } = parsePublicHostMap(text);
        for (const value of Object.values(map)) {
          assert.ok(isDnsName(value.startsWith("*.") ? value.slice(2) : value), value);
        }
      }),
    );
  });
});

describe("toInstanceHost", () => {
  it("puts the instance in the first label, so one wildcard certificate covers it", () => {
    assert.deepEqual(toInstanceHost("jupyter.apps.example.test", "web", "abc123"), {
      ok: true,
      host: "jupyter-abc123.apps.example.test",
    });
    assert.deepEqual(toInstanceHost("*.apps.example.test", "my_api", "abc123"), {
      ok: true,
      host: "my-api-abc123.apps.example.test",
    });
  });

  it("refuses a bare label without a domain and a host outside the domain", () => {
    assert.equal(toInstanceHost("jupyter", "web", "abc123").ok, false);
    const outside = toInstanceHost("jupyter.evil.test", "web", "abc123", "apps.example.test");
    assert.ok(!outside.ok && outside.reason === "host_outside_domain");
    // "xapps.example.test" ends with "apps.example.test" but is not under it.
    const lookalike = toInstanceHost("j.xapps.example.test", "web", "a", "apps.example.test");
    assert.ok(!lookalike.ok && lookalike.reason === "host_outside_domain");
  });

  it("always gives a single valid label per instance (property)", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,20}$/);
    fc.assert(
      fc.property(label, label, fc.stringMatching(/^[a-z0-9]{1,12}$/), (prefix, name, short) => {
        const result = toInstanceHost(`${prefix}.apps.example.test`, name, short);
        assert.ok(result.ok);
        assert.equal(result.host, `${prefix}-${short}.apps.example.test`);
        assert.ok(isDnsName(result.host));
      }),
    );
  });
});
