import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { PROFILE_SCHEMA } from "./profile-schema.js";

describe("canonical schema file", () => {
  it("equals PROFILE_SCHEMA (run `npm run gen` after changing the schema)", () => {
    const file = new URL(
      "../schemas/launchable_oci_workload_profile.v1.schema.json",
      import.meta.url,
    );
    assert.deepEqual(
      JSON.parse(readFileSync(file, "utf8")),
      JSON.parse(JSON.stringify(PROFILE_SCHEMA)),
    );
  });

  it("is a JSON Schema 2020-12 document that closes every object", () => {
    assert.equal(PROFILE_SCHEMA.$schema, "https://json-schema.org/draft/2020-12/schema");
    const open: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (typeof node !== "object" || node === null) return;
      const schema = node as Record<string, unknown>;
      if (schema.type === "object" && !("additionalProperties" in schema)) open.push(path);
      for (const [key, child] of Object.entries(schema)) visit(child, `${path}/${key}`);
    };
    visit(PROFILE_SCHEMA, "");
    assert.deepEqual(open, []);
  });
});
