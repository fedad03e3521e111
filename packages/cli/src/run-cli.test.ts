import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { CliIo } from "./cli-io.js";
import { runCli } from "./run-cli.js";

const validProfile = fileURLToPath(new URL("../test/fixtures/valid.yaml", import.meta.url));

async function run(
  argv: string[],
  io: Partial<CliIo> = {},
  debug = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    argv,
    {
      stdout:
        io.stdout ??
        ((text) => {
          stdout += text;
        }),
      stderr: (text) => {
        stderr += text;
      },
    },
    { debug },
  );
  return { code, stdout, stderr };
}

describe("runCli", () => {
  it("prints help on stdout and exits 0", async () => {
    for (const argv of [["--help"], ["profiles", "--help"], ["profiles", "lint", "--help"]]) {
      const result = await run(argv);
      assert.equal(result.code, 0, argv.join(" "));
      assert.match(result.stdout, /^Usage: gpuaas/);
      assert.equal(result.stderr, "");
    }
    assert.match((await run(["profiles", "gate", "--help"])).stdout, /Exit status:/);
  });

  it("exits 2 with commander's message on bad usage", async () => {
    const cases: [string[], RegExp][] = [
      [[], /Usage: gpuaas/],
      [["launch"], /unknown command 'launch'/],
      [["profiles", "lint"], /missing required argument 'paths'/],
      [["profiles", "lint", "--strict", "x.yaml"], /unknown option '--strict'/],
      [["profiles", "lint", "-o", "xml", "x.yaml"], /Allowed choices are text, json/],
      [["profiles", "gate", "a.yaml", "b.yaml"], /too many arguments/],
      [["profiles", "normalize", "-o", "text", "a.yaml"], /Allowed choices are yaml, json/],
    ];
    for (const [argv, message] of cases) {
      const result = await run(argv);
      assert.equal(result.code, 2, argv.join(" "));
      assert.match(result.stderr, message, argv.join(" "));
    }
  });

  it("turns an unexpected exception into one line and exit 70", async () => {
    const failingStdout = (): void => {
      throw new Error("stdout is gone\n  with a second line");
    };
    const result = await run(["profiles", "lint", validProfile], { stdout: failingStdout });
    assert.equal(result.code, 70);
    assert.equal(result.stderr, "gpuaas: internal error: stdout is gone with a second line\n");
  });

  it("adds the stack to an internal error only when debugging", async () => {
    const failingStdout = (): void => {
      throw new Error("boom");
    };
    const result = await run(["schema", "profile"], { stdout: failingStdout }, true);
    assert.equal(result.code, 70);
    assert.match(result.stderr, /^gpuaas: internal error: boom\nError: boom\n {4}at /);
  });
});
