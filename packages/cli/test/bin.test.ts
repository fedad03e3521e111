// End-to-end tests of the built `gpuaas` binary (build first: npx tsc --build packages/cli).
// Human output is compared with the golden files in test/golden; after an intended change,
// regenerate them with `node scripts/update-golden.mjs packages/cli` and review the diff.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const fixtures = relative(root, fileURLToPath(new URL("./fixtures/", import.meta.url)));
const goldenDir = fileURLToPath(new URL("./golden/", import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built binary from the repository root, so paths in its output are stable. */
async function gpuaas(...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { ...process.env, GPUAAS_DEBUG: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject).on("close", resolve);
  });
  // Whatever happens, a user never sees a stack trace.
  assert.doesNotMatch(stdout, / {4}at /, `stack frame on stdout of gpuaas ${args.join(" ")}`);
  assert.doesNotMatch(stderr, / {4}at /, `stack frame on stderr of gpuaas ${args.join(" ")}`);
  return { code, stdout, stderr };
}

interface JsonIssue {
  pointer: string;
  code: string;
  severity: string;
}

/** `[pointer, code]` of every issue `lint --output json` reports for one file. */
async function lintIssues(
  file: string,
): Promise<{ code: number | null; issues: [string, string][] }> {
  const run = await gpuaas("profiles", "lint", "--output", "json", file);
  const report = JSON.parse(run.stdout) as { files: { file: string; issues: JsonIssue[] }[] };
  assert.equal(report.files.length, 1);
  return {
    code: run.code,
    issues: (report.files[0]?.issues ?? []).map((issue) => [issue.pointer, issue.code]),
  };
}

function assertGolden(name: string, actual: string): void {
  const path = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `${name} is missing; run node scripts/update-golden.mjs`);
  assert.equal(actual, readFileSync(path, "utf8"), `${name} differs from the output`);
}

const curated = readdirSync(join(root, "profiles"))
  .filter((name) => /\.(ya?ml|json)$/i.test(name))
  .sort()
  .map((name) => join("profiles", name));

let scratch = "";
before(() => {
  assert.ok(existsSync(bin), "build the CLI first: npx tsc --build packages/cli");
  scratch = mkdtempSync(join(tmpdir(), "gpuaas-cli-"));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe("curated profiles", { concurrency: true }, () => {
  it("are found", async () => {
    assert.ok(curated.includes("profiles/jupyterlab.yaml"));
  });

  for (const file of curated) {
    it(`${file} lints clean, passes the gate and normalizes to a fixed point`, async () => {
      const [lint, gate, normalized] = await Promise.all([
        gpuaas("profiles", "lint", file),
        gpuaas("profiles", "gate", "--output", "json", file),
        gpuaas("profiles", "normalize", file),
      ]);
      assert.equal(lint.code, 0, lint.stdout);
      assert.equal(lint.stdout, `${file}: ok\n`);

      const report = JSON.parse(gate.stdout) as { ready: boolean; points: unknown[] };
      assert.equal(gate.code, 0, gate.stdout);
      assert.equal(report.ready, true);
      assert.equal(report.points.length, 10);

      assert.equal(normalized.code, 0, normalized.stderr);
      const once = join(scratch, `${file.replaceAll("/", "_")}.normalized.yaml`);
      writeFileSync(once, normalized.stdout);
      const again = await gpuaas("profiles", "normalize", once);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stderr, "");
      assert.equal(again.stdout, normalized.stdout);
    });
  }

  it("lint as a directory with exit 0", async () => {
    const run = await gpuaas("profiles", "lint", "profiles/");
    assert.equal(run.code, 0, run.stdout);
    assert.equal(
      run.stdout.split("\n").filter((line) => line.endsWith(": ok")).length,
      curated.length,
    );
  });
});

describe("gpuaas profiles lint", { concurrency: true }, () => {
  it("accepts valid YAML and JSON manifests (golden)", async () => {
    const run = await gpuaas("profiles", "lint", fixture("valid.yaml"), fixture("valid.json"));
    assert.equal(run.code, 0);
    assert.equal(run.stderr, "");
    assertGolden("lint-clean.txt", run.stdout);
  });

  it("reports every problem of every file (golden)", async () => {
    const run = await gpuaas(
      "profiles",
      "lint",
      fixture("legacy-endpoint.yaml"),
      fixture("semantic-errors.yaml"),
      fixture("unknown-keys.yaml"),
      fixture("malformed.yaml"),
      fixture("malformed.json"),
      fixture("duplicate-key.yaml"),
      fixture("not-utf8.yaml"),
      fixture("missing.yaml"),
    );
    assert.equal(run.code, 2);
    assert.equal(run.stderr, "");
    assertGolden("lint-issues.txt", run.stdout);
  });

  it("exits 0 with warnings only", async () => {
    assert.deepEqual(await lintIssues(fixture("legacy-endpoint.yaml")), {
      code: 0,
      issues: [["/network/endpoints/0", "profile.endpoint.legacy_fields"]],
    });
  });

  it("exits 1 for contract errors, with their codes and pointers", async () => {
    assert.deepEqual(await lintIssues(fixture("semantic-errors.yaml")), {
      code: 1,
      issues: [
        ["/artifacts/amd_rocm_image/artifact_name", "profile.artifact.tag_reference"],
        [
          "/network/endpoints/0/managed_ingress/route_family",
          "profile.endpoint.reserved_route_family",
        ],
        [
          "/parameters/schema/properties/cpu_cores/default",
          "profile.resources.default_below_minimum",
        ],
        ["/parameters/ui/launch_wizard/steps/1/components/1/name", "profile.wizard.unknown_field"],
        ["/validation/readiness/0/endpoint", "profile.endpoint.unknown_reference"],
      ],
    });
    assert.deepEqual(await lintIssues(fixture("unknown-keys.yaml")), {
      code: 1,
      issues: [
        ["/annotations", "profile.schema.unknown_key"],
        ["/network/endpoints/0/managed_ingress/pomerium_policy", "profile.schema.unknown_key"],
        ["/profile/maintainer", "profile.schema.unknown_key"],
      ],
    });
  });

  it("exits 2 for input it cannot use, with a stable code", async () => {
    const cases: [string, [string, string][]][] = [
      ["malformed.yaml", [["", "input.syntax"]]],
      ["malformed.json", [["", "input.syntax"]]],
      ["multi-document.yaml", [["", "input.syntax"]]],
      ["list-top-level.yaml", [["", "input.not_object"]]],
      ["scalar-top-level.yaml", [["", "input.not_object"]]],
      ["empty.yaml", [["", "input.not_object"]]],
      [
        "duplicate-key.yaml",
        [
          ["/profile/slug", "input.duplicate_key"],
          ["/network", "input.duplicate_key"],
        ],
      ],
      ["duplicate-key.json", [["/profile/slug", "input.duplicate_key"]]],
      ["alias-bomb.yaml", [["", "input.alias_limit"]]],
      ["recursive-alias.yaml", [["/profile/itself", "input.unsupported_value"]]],
      ["tagged.yaml", [["", "input.unsupported_value"]]],
      ["complex-key.yaml", [["", "input.unsupported_value"]]],
      ["infinite-number.json", [["/profile/size", "input.unsupported_value"]]],
      ["not-utf8.yaml", [["", "input.encoding"]]],
      ["profile.txt", [["", "input.unsupported_type"]]],
      ["missing.yaml", [["", "input.not_found"]]],
    ];
    const results = await Promise.all(cases.map(([name]) => lintIssues(fixture(name))));
    cases.forEach(([name, issues], index) => {
      assert.deepEqual(results[index], { code: 2, issues }, name);
    });
  });

  it("gives syntax errors a line and column", async () => {
    const run = await gpuaas("profiles", "lint", "--output", "json", fixture("malformed.json"));
    const report = JSON.parse(run.stdout) as { files: { issues: object[] }[] };
    const issue = report.files[0]?.issues[0];
    assert.deepEqual(issue, {
      pointer: "",
      code: "input.syntax",
      message: 'expected a quoted key, found "}"',
      severity: "error",
      line: 5,
      column: 3,
    });
  });

  it("refuses an oversized file and an empty directory", async () => {
    const big = join(scratch, "big.yaml");
    writeFileSync(big, `profile: {}\n#${"x".repeat(1024 * 1024)}\n`);
    assert.deepEqual(await lintIssues(big), { code: 2, issues: [["", "input.too_large"]] });
    const empty = join(scratch, "empty-dir");
    mkdirSync(empty);
    assert.deepEqual(await lintIssues(empty), { code: 2, issues: [["", "input.empty_directory"]] });
  });

  it("refuses nesting too deep to parse", async () => {
    const deepYaml = join(scratch, "deep.yaml");
    writeFileSync(deepYaml, `a: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`);
    assert.equal((await lintIssues(deepYaml)).issues[0]?.[1], "input.too_deep");
    const deepJson = join(scratch, "deep.json");
    writeFileSync(deepJson, `{"a": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    assert.deepEqual(await lintIssues(deepJson), { code: 1, issues: [["", "document.too_deep"]] });
  });

  it("exits with the worst outcome of all files: unusable over invalid over ok", async () => {
    const valid = fixture("valid.yaml");
    const invalid = fixture("semantic-errors.yaml");
    const [invalidRun, unusableRun] = await Promise.all([
      gpuaas("profiles", "lint", valid, invalid),
      gpuaas("profiles", "lint", valid, invalid, fixture("malformed.yaml")),
    ]);
    assert.equal(invalidRun.code, 1);
    assert.equal(unusableRun.code, 2);
  });

  it("prints one JSON document for all files", async () => {
    const run = await gpuaas("profiles", "lint", "-o", "json", fixtures);
    const report = JSON.parse(run.stdout) as { files: { file: string; ok: boolean }[] };
    assert.equal(run.code, 2);
    const files = report.files.map((file) => file.file);
    assert.deepEqual(files, [...files].sort());
    assert.ok(files.includes(fixture("valid.json")));
    assert.ok(!files.includes(fixture("profile.txt")), "a directory holds only manifests");
    assert.deepEqual(
      report.files.filter((file) => file.ok).map((file) => file.file),
      [fixture("legacy-endpoint.yaml"), fixture("valid.json"), fixture("valid.yaml")],
    );
  });

  it("stops writing quietly when the reader goes away", async () => {
    const child = spawn(process.execPath, [bin, "profiles", "lint", fixtures], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(stderr, "");
    assert.equal(code, 2);
  });
});

describe("gpuaas profiles gate", { concurrency: true }, () => {
  it("prints the ten points and a verdict, exit 0 when ready (golden)", async () => {
    const run = await gpuaas("profiles", "gate", fixture("valid.yaml"));
    assert.equal(run.code, 0);
    assertGolden("gate-ready.txt", run.stdout);
  });

  it("exits 1 when a point fails (golden)", async () => {
    const run = await gpuaas("profiles", "gate", fixture("legacy-endpoint.yaml"));
    assert.equal(run.code, 1);
    assertGolden("gate-not-ready.txt", run.stdout);
  });

  it("exits 1 with the issues when the manifest does not validate (golden)", async () => {
    const run = await gpuaas("profiles", "gate", fixture("semantic-errors.yaml"));
    assert.equal(run.code, 1);
    assertGolden("gate-invalid.txt", run.stdout);
  });

  it("prints JSON with --output json", async () => {
    const run = await gpuaas(
      "profiles",
      "gate",
      "--output",
      "json",
      fixture("legacy-endpoint.yaml"),
    );
    const report = JSON.parse(run.stdout) as {
      ready: boolean;
      points: { key: string; status: string }[];
      issues: JsonIssue[];
    };
    assert.equal(run.code, 1);
    assert.equal(report.ready, false);
    assert.deepEqual(
      report.points.filter((point) => point.status === "fail").map((point) => point.key),
      ["endpoint_exposure_declared", "smoke_evidence"],
    );
    assert.deepEqual(
      report.issues.map((issue) => issue.code),
      ["profile.endpoint.legacy_fields"],
    );
  });

  it("exits 2 for unusable input", async () => {
    const run = await gpuaas("profiles", "gate", fixture("alias-bomb.yaml"));
    assert.equal(run.code, 2);
    assert.match(run.stdout, /input\.alias_limit/);
  });
});

describe("gpuaas profiles normalize", { concurrency: true }, () => {
  it("prints the normalized profile as YAML or JSON", async () => {
    const yaml = await gpuaas("profiles", "normalize", fixture("valid.yaml"));
    assert.equal(yaml.code, 0);
    assert.match(yaml.stdout, /^profile:\n {2}kind: gpuaas\.launchable_oci_workload\n/);
    const json = await gpuaas("profiles", "normalize", "--output", "json", fixture("valid.yaml"));
    assert.equal(json.code, 0);
    const profile = JSON.parse(json.stdout) as { profile: { slug: string } };
    assert.equal(profile.profile.slug, "fixture-notebook");
  });

  it("rewrites legacy endpoint fields, warning on stderr", async () => {
    const run = await gpuaas(
      "profiles",
      "normalize",
      "-o",
      "json",
      fixture("legacy-endpoint.yaml"),
    );
    assert.equal(run.code, 0);
    assert.match(run.stderr, /profile\.endpoint\.legacy_fields/);
    const profile = JSON.parse(run.stdout) as {
      network: { endpoints: { type: string; managed_ingress: { enabled: boolean } }[] };
    };
    const [endpoint] = profile.network.endpoints;
    assert.ok(endpoint !== undefined);
    assert.equal(endpoint.type, "http");
    assert.equal("protocol" in endpoint, false);
    assert.equal(endpoint.managed_ingress.enabled, true);
  });

  it("prints only issues, on stderr, when the manifest is invalid or unusable", async () => {
    const invalid = await gpuaas("profiles", "normalize", fixture("semantic-errors.yaml"));
    assert.equal(invalid.code, 1);
    assert.equal(invalid.stdout, "");
    assert.match(invalid.stderr, /profile\.wizard\.unknown_field/);
    const unusable = await gpuaas("profiles", "normalize", fixture("list-top-level.yaml"));
    assert.equal(unusable.code, 2);
    assert.equal(unusable.stdout, "");
    assert.match(unusable.stderr, /input\.not_object/);
  });
});

describe("gpuaas schema profile", { concurrency: true }, () => {
  it("prints the canonical schema", async () => {
    const run = await gpuaas("schema", "profile");
    assert.equal(run.code, 0);
    const file = join(
      root,
      "packages/contract/schemas/launchable_oci_workload_profile.v1.schema.json",
    );
    assert.deepEqual(JSON.parse(run.stdout), JSON.parse(readFileSync(file, "utf8")));
  });
});

describe("usage", { concurrency: true }, () => {
  it("prints the version", async () => {
    const run = await gpuaas("--version");
    const manifest = JSON.parse(readFileSync(join(root, "packages/cli/package.json"), "utf8")) as {
      version: string;
    };
    assert.equal(run.code, 0);
    assert.equal(run.stdout, `${manifest.version}\n`);
  });

  it("prints help for every command, exit 0", async () => {
    const commands = [
      [],
      ["profiles"],
      ["profiles", "lint"],
      ["profiles", "normalize"],
      ["profiles", "gate"],
      ["schema"],
      ["schema", "profile"],
      ["agent"],
      ["agent", "run"],
    ];
    const runs = await Promise.all(commands.map((command) => gpuaas(...command, "--help")));
    runs.forEach((run, index) => {
      assert.equal(run.code, 0, commands[index]?.join(" "));
      assert.match(run.stdout, /^Usage: gpuaas/);
    });
  });

  it("agent run refuses bad options before it touches anything, naming every problem", async () => {
    const run = await gpuaas(
      "agent",
      "run",
      "--server",
      "http://user:secret@127.0.0.1:1",
      "--plain-http-registry",
      "registry.example:5000",
    );
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--server: the server URL must not carry credentials/);
    assert.match(
      run.stderr,
      /--plain-http-registry: registry\.example:5000 is not on a loopback address/,
    );
    assert.doesNotMatch(run.stderr, /secret/);
  });

  it("exits 2 on unknown commands and options", async () => {
    const commands = [
      ["frobnicate"],
      ["profiles", "frobnicate"],
      ["profiles", "lint", "--frobnicate", "x.yaml"],
      ["profiles", "lint"],
      ["schema", "workload"],
      ["agent", "run"],
      ["agent", "run", "--server", "http://127.0.0.1:1", "--runtime", "crio"],
    ];
    const runs = await Promise.all(commands.map((command) => gpuaas(...command)));
    runs.forEach((run, index) => {
      assert.equal(run.code, 2, commands[index]?.join(" "));
      assert.match(run.stderr, /error:|Usage:/);
    });
  });
});
