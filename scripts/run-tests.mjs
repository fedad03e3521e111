// Runs every test with node's test runner: lint and type checks first, then unit tests beside the
// code (packages/*/src/**/*.test.ts) and integration tests (packages/*/test, test/).
// Usage: npm test [-- path-filter...]   e.g. npm test -- packages/contract
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
// A test that hangs fails after this long instead of holding CI until its hard limit. The longest
// end-to-end file takes about a minute here.
const TEST_TIMEOUT_MS = 10 * 60_000;
const filters = process.argv.slice(2);

function findTests(dir, found = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (name.endsWith(".test.ts")) found.push(relative(root, path));
  }
  return found;
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (filters.length === 0) {
  run("npx", ["--no-install", "biome", "check", "."]);
  run("npx", ["--no-install", "tsc", "-p", "tsconfig.tests.json"]);
}

const files = ["packages", "test"]
  .flatMap((dir) => findTests(join(root, dir)))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.startsWith(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
run(process.execPath, [
  "--import",
  "tsx",
  "--import",
  "./scripts/test-seed.mjs",
  "--test",
  `--test-timeout=${TEST_TIMEOUT_MS}`,
  "--test-reporter=spec",
  ...files,
]);
