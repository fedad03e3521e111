// Contract throughput: validations and launch resolutions per second for each curated profile,
// warm, in one thread. A benchmark, not a test: it prints figures and asserts nothing.
// Run: npm run bench
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolveLaunch, validateProfile, type WorkloadProfile } from "@gpuaas/contract";
import YAML from "yaml";

const WARMUP_MS = 300;
const MEASURE_MS = 1500;

function rate(work: () => void): { perSecond: number; microseconds: number } {
  const warmEnd = performance.now() + WARMUP_MS;
  while (performance.now() < warmEnd) work();
  let count = 0;
  const start = performance.now();
  let now = start;
  while (now - start < MEASURE_MS) {
    for (let i = 0; i < 50; i += 1) work();
    count += 50;
    now = performance.now();
  }
  const seconds = (now - start) / 1000;
  return { perSecond: count / seconds, microseconds: (seconds * 1e6) / count };
}

function launchRequest(profile: WorkloadProfile): unknown {
  const config: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(profile.parameters.schema.properties)) {
    if (schema.default !== undefined && !["gpu_count", "cpu_cores", "memory_gib"].includes(name)) {
      config[name] = schema.default;
    }
  }
  if ("python_packages" in config) config.python_packages = "numpy==2.4.4 pandas>=2.2 torch~=2.9";
  return {
    app_slug: profile.profile.slug,
    app_version: "2026.11",
    display_name: `bench ${profile.profile.slug}`,
    placement_intent: { target_allocation_id: "alloc-1" },
    config,
    resource_overrides: {
      cpu_cores: profile.resources.cpu.min_cores,
      memory_gib: profile.resources.memory.min_gib,
    },
  };
}

const dir = new URL("../profiles/", import.meta.url);
const rows: string[][] = [];
for (const name of readdirSync(dir)
  .filter((file) => file.endsWith(".yaml"))
  .sort()) {
  const manifest = YAML.parse(readFileSync(new URL(name, dir), "utf8"));
  const validation = validateProfile(manifest);
  if (!validation.profile) throw new Error(`${name} does not validate`);
  const profile = validation.profile;
  const request = launchRequest(profile);
  if (!resolveLaunch(profile, request).ok)
    throw new Error(`${name}: bench request does not resolve`);
  const validate = rate(() => validateProfile(manifest));
  const resolve = rate(() => resolveLaunch(profile, request));
  rows.push([
    name,
    Math.round(validate.perSecond).toLocaleString("en-US"),
    validate.microseconds.toFixed(1),
    Math.round(resolve.perSecond).toLocaleString("en-US"),
    resolve.microseconds.toFixed(1),
  ]);
}

const header = ["profile", "validations/s", "µs/validation", "resolves/s", "µs/resolve"];
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)),
);
const line = (cells: string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
console.log(`node ${process.version}, ${cpus()[0]?.model ?? "unknown cpu"}, one thread, warm`);
console.log(line(header));
console.log(line(widths.map((width) => "-".repeat(width))));
for (const row of rows) console.log(line(row));
