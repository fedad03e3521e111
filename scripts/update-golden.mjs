// Regenerates the golden files (expected CLI and renderer output) by running the tests with
// UPDATE_GOLDEN=1; review the diff before committing it.
// Usage: node scripts/update-golden.mjs [path-filter...]   e.g. node scripts/update-golden.mjs packages/cli
import { spawnSync } from "node:child_process";

const filters = process.argv.slice(2);
const runner = new URL("run-tests.mjs", import.meta.url).pathname;
const result = spawnSync(
  process.execPath,
  [runner, ...(filters.length > 0 ? filters : ["packages", "test"])],
  {
    stdio: "inherit",
    env: { ...process.env, UPDATE_GOLDEN: "1" },
  },
);
process.exit(result.status ?? 1);
