// Writes the canonical profile schema file from the contract's PROFILE_SCHEMA (run after a build).
// A contract test fails when the committed file and the source differ.
import { writeFileSync } from "node:fs";
import { PROFILE_SCHEMA } from "../packages/contract/dist/index.js";

const target = new URL(
  "../packages/contract/schemas/launchable_oci_workload_profile.v1.schema.json",
  import.meta.url,
);
writeFileSync(target, `${JSON.stringify(PROFILE_SCHEMA, null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
